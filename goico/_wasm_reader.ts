/**
 * A minimal cursor over WebAssembly binary bytes (LEB128 and raw bytes),
 * private to the fuel meter. Reads past the end throw {@link WasmFormatError}.
 *
 * @module
 */

/** The bytes do not follow the WebAssembly binary format. */
export class WasmFormatError extends Error {
  override name = "WasmFormatError";
}

/** A forward-only reader over `bytes[pos, end)`. */
export class WasmReader {
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
    readonly end = bytes.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  u8(): number {
    if (this.pos >= this.end) {
      throw new WasmFormatError(`unexpected end of data at offset ${this.pos}`);
    }
    return this.bytes[this.pos++];
  }

  /** Peeks at the next byte without consuming it. */
  peek(): number {
    if (this.pos >= this.end) {
      throw new WasmFormatError(`unexpected end of data at offset ${this.pos}`);
    }
    return this.bytes[this.pos];
  }

  /** An unsigned LEB128 of at most 32 bits. */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) break;
        return result;
      }
      shift += 7;
    }
    throw new WasmFormatError(`bad u32 LEB128 before offset ${this.pos}`);
  }

  /** Skips a signed or unsigned LEB128 of at most `bits` bits. */
  skipLeb(bits: number): void {
    const max = Math.ceil(bits / 7);
    for (let i = 0; i < max; i++) {
      if ((this.u8() & 0x80) === 0) return;
    }
    throw new WasmFormatError(`LEB128 too long before offset ${this.pos}`);
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new WasmFormatError(
        `${n} bytes at offset ${this.pos} run past the end (${this.end})`,
      );
    }
    this.pos += n;
  }

  /** A length-prefixed UTF-8 name. */
  name(): string {
    const len = this.u32();
    const start = this.pos;
    this.skip(len);
    return new TextDecoder().decode(this.bytes.subarray(start, this.pos));
  }

  /**
   * Skips a value type: one byte, or for the typed references of the GC /
   * function-references proposals (0x63, 0x64) a byte plus a heap type.
   */
  skipValType(): void {
    const b = this.u8();
    if (b === 0x63 || b === 0x64) this.skipLeb(33);
  }

  /** Skips table/memory limits: flags, min, and max when flags bit 0 is set. */
  skipLimits(): void {
    const flags = this.u32();
    this.skipLeb(64);
    if (flags & 1) this.skipLeb(64);
  }
}
