/**
 * A valid WebAssembly module of a given size: the 8-byte header and one
 * custom section of filler, for upload tests that need a large file.
 */
export function bigModule(size: number): Uint8Array<ArrayBuffer> {
  const name = new TextEncoder().encode("pad");
  // Section: id 0, u32 size (5-byte LEB128), name length, name, payload.
  const payload = size - 8 - 1 - 5 - 1 - name.length;
  if (payload < 0) throw new Error(`A module cannot be ${size} bytes`);
  const out = new Uint8Array(size);
  out.set([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  let at = 8;
  out[at++] = 0;
  let n = 1 + name.length + payload;
  for (let i = 0; i < 5; i++) {
    out[at++] = (n & 0x7f) | (i < 4 ? 0x80 : 0);
    n >>>= 7;
  }
  out[at++] = name.length;
  out.set(name, at);
  at += name.length;
  // Not all zeros: the bytes differ from run to run, so a blob is new.
  crypto.getRandomValues(out.subarray(at, at + 64));
  return out;
}
