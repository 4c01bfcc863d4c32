// This is AssemblyScript, not TypeScript: Deno must leave it alone (deno fmt
// would drop the @external decorator; i32, usize, heap... are asc builtins).
// deno-fmt-ignore-file
// deno-lint-ignore-file
// @ts-nocheck
// audit: a "ver 1" (Rust style) Jobicolet written in AssemblyScript.
//
// Built by scripts/build_examples.ts with the stub runtime and with `abort`
// routed to `abortHandler` below, so the only import is env.log. The ABI is
// the project's Jobicolet ABI document: `free` takes (ptr, size) because
// `ver` returns 1.
//
// Input: any JSON bytes (here: the chained result of the greet job).
// Output: code 0 and {"audited":<number of input bytes>}.

// env.log(level, ptr, len): a log line of len UTF-8 bytes at ptr.
@external("env", "log")
declare function hostLog(level: i32, ptr: usize, len: i32): void;

/** How many input bytes are copied into the log line. */
const LOG_PREFIX_MAX: i32 = 200;

/** The target of `--use abort=...`: no env.abort import, just a trap. */
function abortHandler(
  _message: string | null,
  _fileName: string | null,
  _line: u32,
  _column: u32,
): void {
  unreachable();
}

export function malloc(size: i32): usize {
  return heap.alloc(<usize>size);
}

export function free(ptr: usize, _size: i32): void {
  if (ptr != 0) heap.free(ptr);
}

export function init(): void {}

/** ABI flavour 1: free(ptr, size). */
export function ver(): i32 {
  return 1;
}

/** Copies an ASCII string literal to memory at dst; returns the byte count. */
function putAscii(dst: usize, text: string): i32 {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    store<u8>(dst + <usize>i, <u8>text.charCodeAt(i));
  }
  return n;
}

/** Writes the decimal digits of n at dst; returns the byte count. */
function putDecimal(dst: usize, n: u32): i32 {
  let digits = 1;
  for (let t = n; t >= 10; t /= 10) digits++;
  let v = n;
  for (let i = digits - 1; i >= 0; i--) {
    store<u8>(dst + <usize>i, <u8>(48 + v % 10));
    v /= 10;
  }
  return digits;
}

export function event(retptr: usize, inPtr: usize, inLen: i32): void {
  const len = inLen > 0 ? inLen : 0;

  // "audit: <first 200 bytes of the input>"
  const shown = len < LOG_PREFIX_MAX ? len : LOG_PREFIX_MAX;
  const line = heap.alloc(<usize>(7 + shown));
  const prefix = putAscii(line, "audit: ");
  memory.copy(line + <usize>prefix, inPtr, <usize>shown);
  hostLog(1, line, prefix + shown);
  heap.free(line);

  // {"audited":<len>}: 11 + at most 10 digits + 1 bytes.
  const out = heap.alloc(24);
  let n = putAscii(out, '{"audited":');
  n += putDecimal(out + <usize>n, <u32>len);
  store<u8>(out + <usize>n, 125); // "}"
  n += 1;

  store<u64>(retptr, 0); // code
  store<u64>(retptr, (<u64>out << 32) | <u64>n, 8); // (ptr << 32) | len
}
