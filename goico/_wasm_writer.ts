/**
 * LEB128 encoders and byte concatenation, private to the fuel meter.
 *
 * @module
 */

/** Unsigned LEB128 of a non-negative integer below 2^32. */
export function encodeU32(value: number): Uint8Array {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return Uint8Array.from(out);
}

/** Signed LEB128 of a 64-bit integer. */
export function encodeS64(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = BigInt.asIntN(64, value);
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n; // arithmetic shift for bigint
    const signBit = (b & 0x40) !== 0;
    if ((v === 0n && !signBit) || (v === -1n && signBit)) {
      out.push(b);
      return Uint8Array.from(out);
    }
    out.push(b | 0x80);
  }
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A length-prefixed UTF-8 name. */
export function encodeName(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  return concat([encodeU32(bytes.length), bytes]);
}
