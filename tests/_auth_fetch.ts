/** fetch against a base URL with a bearer token on every request. */
export function authFetch(
  base: string,
  token: string,
): (path: string, init?: RequestInit) => Promise<Response> {
  return (path, init = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("authorization")) {
      headers.set("authorization", `Bearer ${token}`);
    }
    return fetch(base + path, { ...init, headers });
  };
}
