/**
 * Fuel metering for untrusted WebAssembly: rewrites a module binary so that it
 * charges an instruction budget ("fuel") and traps with `unreachable` when the
 * budget runs out. It works in any isolate, unlike `worker.terminate()`, which
 * does not stop a thread spinning in wasm.
 *
 * The rewritten module has one more global, a mutable i64 exported as
 * `__fuel` (see {@link MeterOptions}). The host sets it before each call and
 * reads it after: fuel used = value set - value left. When the value drops
 * below zero the module executes `unreachable` (a `WebAssembly.RuntimeError`).
 *
 * Charge points are the entry of every function and the header of every
 * `loop` (right after its block type). Each charge point pays, at once, for
 * every instruction of its *region*: the instructions whose innermost
 * enclosing `loop` (or the function itself, when there is none) is the one
 * of the charge point, including the instructions of nested `block`s and
 * `if`s but not of nested `loop`s, which are regions of their own. Inside a
 * region control only goes forward (the only backward branch is to a `loop`
 * header, i.e. another charge point), so each of its instructions runs at
 * most once per charge: the fuel charged is an upper bound of the number of
 * wasm instructions executed (calls into the host are not counted; the
 * charge sequence itself is not counted either). A region's cost is its
 * static instruction count, so a branch that skips code still pays for it.
 *
 * Supported: the MVP instruction set, sign extension, non-trapping float to
 * int conversions, bulk memory, reference types, multi-value block types,
 * multi-memory memargs and tail calls. Any other opcode (SIMD `0xfd`,
 * threads `0xfe`, exception handling, GC...) is refused with a
 * {@link MeterError} naming the opcode and the function index.
 *
 * ```ts
 * const metered = meterFuel(bytes);
 * const { instance } = await WebAssembly.instantiate(metered, imports);
 * const fuel = instance.exports.__fuel as WebAssembly.Global;
 * fuel.value = 1_000_000n;
 * (instance.exports.run as () => void)(); // traps if it needs more
 * const used = 1_000_000n - (fuel.value as bigint);
 * ```
 *
 * The global starts at {@link MeterOptions.initialFuel} (default 0): a
 * module with a start section (AssemblyScript emits one) runs code during
 * instantiation, so it traps there unless an initial budget is given.
 *
 * @module
 */
import { WasmFormatError, WasmReader } from "./_wasm_reader.ts";
import { concat, encodeName, encodeS64, encodeU32 } from "./_wasm_writer.ts";

/** Options of {@link meterFuel}. */
export interface MeterOptions {
  /** name of the exported fuel global; default "__fuel" */
  exportName?: string;
  /**
   * initial value of the fuel global, i.e. the budget of the module's start
   * function (run during instantiation); default 0
   */
  initialFuel?: bigint;
}

/** The module cannot be metered: not valid wasm, or an unsupported opcode. */
export class MeterError extends Error {
  override name = "MeterError";
}

const SECTION_CUSTOM = 0;
const SECTION_IMPORT = 2;
const SECTION_GLOBAL = 6;
const SECTION_EXPORT = 7;
const SECTION_CODE = 10;

/** Position of each known section id in the required order (tag is 13). */
const SECTION_RANK: Record<number, number> = {
  1: 1,
  2: 2,
  3: 3,
  4: 4,
  5: 5,
  13: 6,
  6: 7,
  7: 8,
  8: 9,
  9: 10,
  12: 11,
  10: 12,
  11: 13,
};

const EXTERNAL_GLOBAL = 3;

interface Section {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  /** Offset of the payload (after the size). */
  payload: number;
  /** Offset after the payload. */
  end: number;
}

/**
 * Returns a new module binary where every function entry and every loop
 * header charges fuel; when fuel goes below zero the module traps with
 * `unreachable`. The fuel is an exported mutable i64 global that the host
 * sets before each call and reads after (fuel used = set - remaining).
 *
 * @throws {MeterError} when `bytes` is not a valid module, uses an opcode
 * the meter does not know, or already exports the fuel global's name.
 */
export function meterFuel(
  bytes: Uint8Array,
  options: MeterOptions = {},
): Uint8Array {
  const exportName = options.exportName ?? "__fuel";
  const initialFuel = options.initialFuel ?? 0n;
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) {
    throw new MeterError("not a valid WebAssembly module");
  }
  try {
    return rewrite(bytes, exportName, initialFuel);
  } catch (err) {
    if (err instanceof WasmFormatError) {
      throw new MeterError(`malformed WebAssembly module: ${err.message}`);
    }
    throw err;
  }
}

function rewrite(
  bytes: Uint8Array,
  exportName: string,
  initialFuel: bigint,
): Uint8Array {
  const r = new WasmReader(bytes);
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  for (const b of magic) {
    if (r.u8() !== b) throw new MeterError("not a WebAssembly 1.0 binary");
  }

  const sections: Section[] = [];
  while (!r.done) {
    const start = r.pos;
    const id = r.u8();
    const size = r.u32();
    const payload = r.pos;
    r.skip(size);
    if (id !== SECTION_CUSTOM && !(id in SECTION_RANK)) {
      throw new MeterError(`unknown section id ${id} at offset ${start}`);
    }
    sections.push({ id, start, payload, end: r.pos });
  }
  const find = (id: number) => sections.find((s) => s.id === id);

  // Imports: count the imported functions and globals.
  let importedFuncs = 0;
  let importedGlobals = 0;
  const imports = find(SECTION_IMPORT);
  if (imports) {
    const ir = new WasmReader(bytes, imports.payload, imports.end);
    const count = ir.u32();
    for (let i = 0; i < count; i++) {
      ir.name();
      ir.name();
      const kind = ir.u8();
      switch (kind) {
        case 0: // func: typeidx
          importedFuncs++;
          ir.u32();
          break;
        case 1: // table: reftype, limits
          ir.skipValType();
          ir.skipLimits();
          break;
        case 2: // memory: limits
          ir.skipLimits();
          break;
        case EXTERNAL_GLOBAL: // global: valtype, mut
          importedGlobals++;
          ir.skipValType();
          ir.u8();
          break;
        case 4: // tag: attribute, typeidx
          ir.u8();
          ir.u32();
          break;
        default:
          throw new MeterError(`unknown import kind ${kind}`);
      }
    }
  }

  const globals = find(SECTION_GLOBAL);
  const definedGlobals = globals
    ? new WasmReader(bytes, globals.payload, globals.end).u32()
    : 0;
  const fuelIndex = importedGlobals + definedGlobals;

  // Exports: refuse a clash with the fuel export's name.
  const exports = find(SECTION_EXPORT);
  if (exports) {
    const er = new WasmReader(bytes, exports.payload, exports.end);
    const count = er.u32();
    for (let i = 0; i < count; i++) {
      if (er.name() === exportName) {
        throw new MeterError(`the module already exports "${exportName}"`);
      }
      er.u8();
      er.u32();
    }
  }

  const newGlobal = concat([
    Uint8Array.of(0x7e, 0x01, 0x42), // i64, mut, i64.const
    encodeS64(initialFuel),
    Uint8Array.of(0x0b), // end
  ]);
  const newExport = concat([
    encodeName(exportName),
    Uint8Array.of(EXTERNAL_GLOBAL),
    encodeU32(fuelIndex),
  ]);

  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  let globalDone = false;
  let exportDone = false;
  const emitMissing = (rank: number) => {
    if (!globalDone && rank > SECTION_RANK[SECTION_GLOBAL]) {
      out.push(section(SECTION_GLOBAL, [encodeU32(1), newGlobal]));
      globalDone = true;
    }
    if (!exportDone && rank > SECTION_RANK[SECTION_EXPORT]) {
      out.push(section(SECTION_EXPORT, [encodeU32(1), newExport]));
      exportDone = true;
    }
  };

  for (const s of sections) {
    if (s.id !== SECTION_CUSTOM) emitMissing(SECTION_RANK[s.id]);
    if (s.id === SECTION_GLOBAL || s.id === SECTION_EXPORT) {
      const sr = new WasmReader(bytes, s.payload, s.end);
      const count = sr.u32();
      out.push(section(s.id, [
        encodeU32(count + 1),
        bytes.subarray(sr.pos, s.end),
        s.id === SECTION_GLOBAL ? newGlobal : newExport,
      ]));
      if (s.id === SECTION_GLOBAL) globalDone = true;
      else exportDone = true;
    } else if (s.id === SECTION_CODE) {
      out.push(rewriteCode(bytes, s, fuelIndex, importedFuncs));
    } else {
      out.push(bytes.subarray(s.start, s.end));
    }
  }
  emitMissing(Infinity);
  return concat(out);
}

function section(id: number, parts: Uint8Array[]): Uint8Array {
  const payload = concat(parts);
  return concat([Uint8Array.of(id), encodeU32(payload.length), payload]);
}

function rewriteCode(
  bytes: Uint8Array,
  s: Section,
  fuelIndex: number,
  importedFuncs: number,
): Uint8Array {
  const r = new WasmReader(bytes, s.payload, s.end);
  const count = r.u32();
  const fuel = encodeU32(fuelIndex);
  const parts: Uint8Array[] = [encodeU32(count)];
  for (let i = 0; i < count; i++) {
    const size = r.u32();
    const start = r.pos;
    r.skip(size);
    const body = meterBody(
      new WasmReader(bytes, start, r.pos),
      fuel,
      importedFuncs + i,
    );
    parts.push(encodeU32(body.length), body);
  }
  if (!r.done) throw new MeterError("trailing bytes in the code section");
  return section(SECTION_CODE, parts);
}

/**
 * The charge sequence: `global.get $f; i64.const cost; i64.sub; global.set
 * $f; global.get $f; i64.const 0; i64.lt_s; if unreachable end`.
 */
function charge(fuel: Uint8Array, cost: number): Uint8Array {
  return concat([
    Uint8Array.of(0x23),
    fuel,
    Uint8Array.of(0x42),
    encodeS64(BigInt(cost)),
    Uint8Array.of(0x7d, 0x24),
    fuel,
    Uint8Array.of(0x23),
    fuel,
    Uint8Array.of(0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b),
  ]);
}

function hex(op: number): string {
  return "0x" + op.toString(16).padStart(2, "0");
}

/** Meters one function body (locals + expression) read from `r`. */
function meterBody(
  r: WasmReader,
  fuel: Uint8Array,
  funcIndex: number,
): Uint8Array {
  const bytes = r.bytes;
  const bodyStart = r.pos;
  const localGroups = r.u32();
  for (let i = 0; i < localGroups; i++) {
    r.u32();
    r.skipValType();
  }

  // Region 0 is the function body; each loop opens a new region. `frames`
  // holds the region of every open control frame (function, block, loop, if).
  const costs: number[] = [0];
  const points: { at: number; region: number }[] = [{ at: r.pos, region: 0 }];
  const frames: number[] = [0];
  const fail = (what: string, at: number): never => {
    throw new MeterError(
      `unsupported opcode ${what} in function ${funcIndex} ` +
        `(byte offset ${at}): the module cannot be metered`,
    );
  };

  while (frames.length > 0) {
    const region = frames[frames.length - 1];
    costs[region]++;
    const at = r.pos;
    const op = r.u8();
    if (op >= 0x45 && op <= 0xc4) continue; // numeric ops without immediates
    if (op >= 0x28 && op <= 0x3e) { // loads and stores: memarg
      r.skipLeb(32);
      r.skipLeb(64);
      continue;
    }
    switch (op) {
      case 0x00: // unreachable
      case 0x01: // nop
      case 0x05: // else
      case 0x0f: // return
      case 0x1a: // drop
      case 0x1b: // select
      case 0xd1: // ref.is_null
        break;
      case 0x02: // block
      case 0x04: // if
        skipBlockType(r);
        frames.push(region);
        break;
      case 0x03: { // loop
        skipBlockType(r);
        const inner = costs.length;
        costs.push(0);
        frames.push(inner);
        points.push({ at: r.pos, region: inner });
        break;
      }
      case 0x0b: // end
        frames.pop();
        break;
      case 0x0c: // br
      case 0x0d: // br_if
      case 0x10: // call
      case 0x12: // return_call
      case 0x20: // local.get
      case 0x21: // local.set
      case 0x22: // local.tee
      case 0x23: // global.get
      case 0x24: // global.set
      case 0x25: // table.get
      case 0x26: // table.set
      case 0x3f: // memory.size
      case 0x40: // memory.grow
      case 0xd2: // ref.func
        r.skipLeb(32);
        break;
      case 0x0e: { // br_table
        const n = r.u32();
        for (let i = 0; i <= n; i++) r.skipLeb(32);
        break;
      }
      case 0x11: // call_indirect: typeidx, tableidx
      case 0x13: // return_call_indirect
        r.skipLeb(32);
        r.skipLeb(32);
        break;
      case 0x1c: { // select t*
        const n = r.u32();
        for (let i = 0; i < n; i++) r.skipValType();
        break;
      }
      case 0x41: // i32.const
        r.skipLeb(32);
        break;
      case 0x42: // i64.const
        r.skipLeb(64);
        break;
      case 0x43: // f32.const
        r.skip(4);
        break;
      case 0x44: // f64.const
        r.skip(8);
        break;
      case 0xd0: // ref.null heaptype
        r.skipLeb(33);
        break;
      case 0xfc: {
        const sub = r.u32();
        if (sub <= 7) break; // saturating truncations
        switch (sub) {
          case 8: // memory.init dataidx memidx
          case 10: // memory.copy memidx memidx
          case 12: // table.init elemidx tableidx
          case 14: // table.copy tableidx tableidx
            r.skipLeb(32);
            r.skipLeb(32);
            break;
          case 9: // data.drop
          case 11: // memory.fill
          case 13: // elem.drop
          case 15: // table.grow
          case 16: // table.size
          case 17: // table.fill
            r.skipLeb(32);
            break;
          default:
            fail(`0xfc ${sub}`, at);
        }
        break;
      }
      default:
        fail(hex(op), at);
    }
  }
  if (!r.done) {
    throw new MeterError(`function ${funcIndex}: bytes after the final end`);
  }

  const parts: Uint8Array[] = [];
  let from = bodyStart;
  for (const p of points) {
    parts.push(bytes.subarray(from, p.at), charge(fuel, costs[p.region]));
    from = p.at;
  }
  parts.push(bytes.subarray(from, r.end));
  return concat(parts);
}

/** Skips a block type: 0x40, a value type, or an s33 type index. */
function skipBlockType(r: WasmReader): void {
  const b = r.peek();
  if (b === 0x63 || b === 0x64) r.skipValType();
  else r.skipLeb(33);
}
