/**
 * Compares a string a client sent with a secret (a token, a signature's
 * hex digest) in time that depends only on the secret's length: every
 * character of the secret is compared, whatever the first difference, and
 * nothing is encoded or decoded.
 */
export function timingSafeEqual(given: string, secret: string): boolean {
  let diff = given.length ^ secret.length;
  for (let i = 0; i < secret.length; i++) {
    // Past the end of `given`, charCodeAt is NaN, which `^` takes as 0:
    // the lengths already differ then.
    diff |= given.charCodeAt(i) ^ secret.charCodeAt(i);
  }
  return diff === 0;
}
