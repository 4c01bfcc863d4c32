/**
 * Deno KV's key encoding, reproduced: the FoundationDB tuple layer's
 * order-preserving bytes, so that a `bytea` column compared byte by byte
 * sorts keys exactly as Deno KV does (Uint8Array < string < bigint <
 * number < false < true, then element by element), prefix and range lists
 * are byte ranges, and a list's cursor is the same string Deno KV gives
 * (the bytes of the last key after the selector's common prefix, base64url).
 *
 *   Uint8Array  0x01 bytes (0x00 written 0x00 0xff) 0x00
 *   string      0x02 UTF-8 (0x00 written 0x00 0xff) 0x00
 *   bigint      0x14 for 0; 0x14 ± n then n big-endian bytes (negatives
 *               complemented) up to 8 bytes; 0x1d / 0x0b, a length byte,
 *               the bytes beyond
 *   number      0x21 then the IEEE 754 bits big-endian, the sign bit
 *               flipped (all bits for negatives); every NaN is one key
 *   boolean     0x26 false, 0x27 true
 */

const BYTES = 0x01;
const STRING = 0x02;
const INT_ZERO = 0x14;
const POS_BIG = 0x1d;
const NEG_BIG = 0x0b;
const DOUBLE = 0x21;
const FALSE = 0x26;
const TRUE = 0x27;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A growable byte buffer. */
class Out {
  buf = new Uint8Array(64);
  len = 0;
  #room(n: number) {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b: number) {
    this.#room(1);
    this.buf[this.len++] = b;
  }
  /** Bytes with 0x00 escaped, then the terminator. */
  escaped(bytes: Uint8Array) {
    this.#room(bytes.length * 2 + 1);
    for (const b of bytes) {
      this.buf[this.len++] = b;
      if (b === 0) this.buf[this.len++] = 0xff;
    }
    this.buf[this.len++] = 0;
  }
  bytes(bytes: Uint8Array) {
    this.#room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const f64 = new DataView(new ArrayBuffer(8));

function bigBytes(n: bigint): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

function part(out: Out, p: Deno.KvKeyPart): void {
  if (typeof p === "string") {
    out.byte(STRING);
    out.escaped(encoder.encode(p));
  } else if (typeof p === "number") {
    out.byte(DOUBLE);
    f64.setFloat64(0, Number.isNaN(p) ? NaN : p);
    const b = new Uint8Array(f64.buffer.slice(0));
    if (b[0] & 0x80) { for (let i = 0; i < 8; i++) b[i] ^= 0xff; }
    else b[0] ^= 0x80;
    out.bytes(b);
  } else if (typeof p === "bigint") {
    if (p === 0n) return out.byte(INT_ZERO);
    const neg = p < 0n;
    const mag = bigBytes(neg ? -p : p);
    if (mag.length <= 8) {
      out.byte(neg ? INT_ZERO - mag.length : INT_ZERO + mag.length);
    } else {
      if (mag.length > 255) {
        throw new TypeError("Key part is a bigint too large to encode");
      }
      out.byte(neg ? NEG_BIG : POS_BIG);
      out.byte(neg ? mag.length ^ 0xff : mag.length);
    }
    if (neg) { for (let i = 0; i < mag.length; i++) mag[i] ^= 0xff; }
    out.bytes(mag);
  } else if (typeof p === "boolean") {
    out.byte(p ? TRUE : FALSE);
  } else if (p instanceof Uint8Array) {
    out.byte(BYTES);
    out.escaped(p);
  } else if (ArrayBuffer.isView(p)) {
    out.byte(BYTES);
    out.escaped(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  } else {
    throw new TypeError(
      "expected string, number, bigint, ArrayBufferView, boolean",
    );
  }
}

/** The bytes of a key. */
export function encodeKey(key: Deno.KvKey): Uint8Array {
  const out = new Out();
  for (const p of key) part(out, p);
  return out.done();
}

/** Reads an escaped run up to its terminator; returns it and the next offset. */
function unescape(bytes: Uint8Array, at: number): [Uint8Array, number] {
  const out: number[] = [];
  for (let i = at; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0) {
      out.push(b);
      continue;
    }
    if (bytes[i + 1] === 0xff) {
      out.push(0);
      i++;
      continue;
    }
    return [Uint8Array.from(out), i + 1];
  }
  throw new TypeError("Invalid key: an unterminated part");
}

function toBig(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** The key that `encodeKey` made these bytes from. */
export function decodeKey(from: Uint8Array): Deno.KvKey {
  // A plain view: a Node Buffer's slice() would share (and the loop below
  // would flip) the bytes it came from.
  const bytes = new Uint8Array(from.buffer, from.byteOffset, from.byteLength);
  const key: Deno.KvKeyPart[] = [];
  let i = 0;
  while (i < bytes.length) {
    const tag = bytes[i++];
    if (tag === STRING) {
      const [s, next] = unescape(bytes, i);
      key.push(decoder.decode(s));
      i = next;
    } else if (tag === BYTES) {
      const [b, next] = unescape(bytes, i);
      key.push(b);
      i = next;
    } else if (tag === DOUBLE) {
      const b = bytes.slice(i, i + 8);
      if (b[0] & 0x80) b[0] ^= 0x80;
      else for (let j = 0; j < 8; j++) b[j] ^= 0xff;
      key.push(new DataView(b.buffer).getFloat64(0));
      i += 8;
    } else if (tag === FALSE || tag === TRUE) {
      key.push(tag === TRUE);
    } else if (tag >= NEG_BIG && tag <= POS_BIG) {
      if (tag === INT_ZERO) {
        key.push(0n);
        continue;
      }
      const neg = tag < INT_ZERO;
      let len: number;
      if (tag === POS_BIG) len = bytes[i++];
      else if (tag === NEG_BIG) len = bytes[i++] ^ 0xff;
      else len = neg ? INT_ZERO - tag : tag - INT_ZERO;
      const mag = bytes.slice(i, i + len);
      if (neg) { for (let j = 0; j < mag.length; j++) mag[j] ^= 0xff; }
      const n = toBig(mag);
      key.push(neg ? -n : n);
      i += len;
    } else {
      throw new TypeError(
        `Invalid key: unknown part tag 0x${tag.toString(16)}`,
      );
    }
  }
  return key;
}

/** Whether `bytes` begins with `prefix`. */
export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (bytes[i] !== prefix[i]) return false;
  }
  return true;
}

/** Byte order of two encoded keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/** `bytes` followed by one more byte. */
export function withByte(bytes: Uint8Array, b: number): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = b;
  return out;
}

/** Base64url with padding, as Deno KV writes cursors. */
export function encodeCursor(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_");
}

/** The bytes of a cursor; a TypeError("invalid cursor") when it is not one. */
export function decodeCursor(cursor: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(cursor) || cursor.length % 4 !== 0) {
    throw new TypeError("invalid cursor");
  }
  let raw: string;
  try {
    raw = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    throw new TypeError("invalid cursor");
  }
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}
