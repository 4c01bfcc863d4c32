/**
 * The bytes a key takes as Deno KV encodes it, which is what its limits
 * count (2 KiB a key, 80 KiB of keys a write; see kv_limits.ts):
 *
 * - a string: a tag, its UTF-8 bytes with each 0x00 written as two bytes,
 *   and a terminating 0x00;
 * - a `Uint8Array`: the same, with its bytes;
 * - a number: a tag and 8 bytes;
 * - a boolean: 1 byte;
 * - a bigint: a tag and the bytes of its magnitude (0 takes none), and a
 *   length byte beyond 8 of them.
 */

/** A character other than ASCII without NUL. */
// deno-lint-ignore no-control-regex
const NOT_PLAIN = /[^\x01-\x7f]/;
const encoder = new TextEncoder();

/** The encoded bytes of one key. */
export function kvKeySize(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) n += partSize(part);
  return n;
}

function partSize(part: Deno.KvKeyPart): number {
  switch (typeof part) {
    case "string":
      // ASCII without NUL (the common case) is a byte a character.
      return NOT_PLAIN.test(part)
        ? 2 + escaped(encoder.encode(part))
        : 2 + part.length;
    case "number":
      return 9;
    case "boolean":
      return 1;
    case "bigint": {
      const magnitude = part < 0n ? -part : part;
      const bytes = magnitude === 0n
        ? 0
        : Math.ceil(magnitude.toString(16).length / 2);
      return bytes <= 8 ? 1 + bytes : 2 + bytes;
    }
    default:
      return 2 + escaped(part as Uint8Array);
  }
}

/** Bytes with each 0x00 counted twice. */
function escaped(bytes: Uint8Array): number {
  let n = bytes.length;
  for (const b of bytes) if (b === 0) n++;
  return n;
}
