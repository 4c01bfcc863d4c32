/**
 * Fuel metering for untrusted WebAssembly: rewrites a module binary so that it
 * charges an instruction budget ("fuel") and traps with `unreachable` when the
 * budget runs out. It works in any isolate, unlike `worker.terminate()`, which
 * does not stop a thread spinning in wasm. It can also cap the module's
 * memory (see "Memory limit" below).
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
 * multi-memory and tail calls. Any other opcode (SIMD `0xfd`,
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
 * ## Memory limit
 *
 * With {@link MeterOptions.memoryLimitPages} (64 KiB pages) the module also
 * gets a mutable i32 global exported as `__limit`, initially 0, and:
 *
 * - every memory it defines or imports gets a maximum of at most the limit
 *   (a memory without a maximum gets the limit; a larger maximum is lowered),
 *   so neither the module nor the host can grow it further. An imported
 *   memory must then be provided with a maximum within the limit. A memory
 *   whose initial size is above the limit is refused with a
 *   {@link MemoryLimitError}; shared and 64-bit memories with a
 *   {@link MeterError};
 * - every `memory.grow` on memory `m` becomes a `call` to a function
 *   appended after the module's own functions (no index shifts), one per
 *   grown memory: when `memory.size + delta` (computed in i64, so no delta
 *   wraps) is above the limit it sets `__limit` to 1 and executes
 *   `unreachable`; otherwise it runs the `memory.grow`. A grow that stays
 *   within the limit but passes the module's own, lower, maximum still
 *   returns -1 as usual. So after a trap, `__limit` = 1 means the memory
 *   limit stopped the module. The appended functions are not metered: the
 *   `memory.grow` they stand for is counted in its caller, so the fuel used
 *   is the same with or without the limit.
 *
 * ```ts
 * const metered = meterFuel(bytes, { memoryLimitPages: 256 }); // 16 MiB
 * ```
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
  /**
   * the most memory the module may have, in 64 KiB pages, for each of its
   * memories (an integer from 0 to 65536); default none: memories are left
   * as they are and no limit global is added
   */
  memoryLimitPages?: number;
  /**
   * name of the exported i32 global that turns 1 when the memory limit
   * stopped the module; default "__limit" (only with `memoryLimitPages`)
   */
  limitExport?: string;
}

/** The options with their defaults applied. */
type ResolvedOptions =
  & Required<Omit<MeterOptions, "memoryLimitPages">>
  & Pick<MeterOptions, "memoryLimitPages">;

/** The module cannot be metered: not valid wasm, or an unsupported opcode. */
export class MeterError extends Error {
  override name = "MeterError";
}

/** A memory of the module starts larger than `memoryLimitPages`. */
export class MemoryLimitError extends MeterError {
  override name = "MemoryLimitError";
  constructor(
    message: string,
    /** index of the memory in the module's memory index space */
    readonly memoryIndex: number,
    /** its initial size in pages */
    readonly pages: number,
    /** the limit in pages */
    readonly limitPages: number,
  ) {
    super(message);
  }
}

/**
 * A size in 64 KiB pages as KiB, MiB or GiB with at most two decimals:
 * 1 -> "64 KiB", 256 -> "16 MiB", 300 -> "18.75 MiB", 65536 -> "4 GiB".
 */
export function formatPages(pages: number): string {
  const round = (x: number) => String(Math.round(x * 100) / 100);
  const kib = pages * 64;
  if (kib < 1024) return `${kib} KiB`;
  if (kib < 1024 * 1024) return `${round(kib / 1024)} MiB`;
  return `${round(kib / (1024 * 1024))} GiB`;
}

/** The most pages a 32-bit memory can have (4 GiB). */
const MAX_PAGES = 65536;

const SECTION_CUSTOM = 0;
const SECTION_TYPE = 1;
const SECTION_IMPORT = 2;
const SECTION_FUNCTION = 3;
const SECTION_MEMORY = 5;
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

/** The encoding of the function type `(i32) -> (i32)`. */
const GROW_TYPE = Uint8Array.of(0x60, 0x01, 0x7f, 0x01, 0x7f);

interface Section {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  /** Offset of the payload (after the size). */
  payload: number;
  /** Offset after the payload. */
  end: number;
}

/** A memory of the module and where its limits are encoded. */
interface MemoryDef {
  /** Index in the module's memory index space. */
  index: number;
  /** e.g. `memory 0` or `memory 0 (imported as "env"."memory")` */
  label: string;
  flags: number;
  /** Initial and maximum pages; undefined for 64-bit memories. */
  min?: number;
  max?: number;
  /** Byte range of the limits. */
  start: number;
  end: number;
}

/** Replace `bytes[at, end)` with `insert` (end = at for an insertion). */
interface Edit {
  at: number;
  end: number;
  insert: Uint8Array;
}

/** A function body as scanned: its byte range and the edits it needs. */
interface ScannedBody {
  start: number;
  end: number;
  /** Charge points (with the region whose cost they pay) and grow sites. */
  sites: (
    | { at: number; region: number }
    | { at: number; end: number; memory: number }
  )[];
  costs: number[];
}

/**
 * Returns a new module binary where every function entry and every loop
 * header charges fuel; when fuel goes below zero the module traps with
 * `unreachable`. The fuel is an exported mutable i64 global that the host
 * sets before each call and reads after (fuel used = set - remaining).
 * With `memoryLimitPages`, the module's memories are capped too (see the
 * module documentation).
 *
 * @throws {MeterError} when `bytes` is not a valid module, uses an opcode
 * the meter does not know, already exports the fuel (or limit) global's
 * name, or (with a memory limit) has a shared or 64-bit memory.
 * @throws {MemoryLimitError} when a memory starts above `memoryLimitPages`.
 * @throws {RangeError} when `memoryLimitPages` is not an integer from 0 to
 * 65536.
 */
export function meterFuel(
  bytes: Uint8Array,
  options: MeterOptions = {},
): Uint8Array {
  const opts: ResolvedOptions = {
    exportName: options.exportName ?? "__fuel",
    initialFuel: options.initialFuel ?? 0n,
    memoryLimitPages: options.memoryLimitPages,
    limitExport: options.limitExport ?? "__limit",
  };
  const limit = opts.memoryLimitPages;
  if (
    limit !== undefined &&
    !(Number.isInteger(limit) && limit >= 0 && limit <= MAX_PAGES)
  ) {
    throw new RangeError(
      `memoryLimitPages must be an integer from 0 to ${MAX_PAGES}, got ${limit}`,
    );
  }
  if (limit !== undefined && opts.limitExport === opts.exportName) {
    throw new RangeError(
      `the fuel and limit globals cannot both be exported as "${opts.exportName}"`,
    );
  }
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) {
    throw new MeterError("not a valid WebAssembly module");
  }
  try {
    return rewrite(bytes, opts);
  } catch (err) {
    if (err instanceof WasmFormatError) {
      throw new MeterError(`malformed WebAssembly module: ${err.message}`);
    }
    throw err;
  }
}

function rewrite(
  bytes: Uint8Array,
  opts: ResolvedOptions,
): Uint8Array {
  const limit = opts.memoryLimitPages;
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

  // Imports: count the imported functions and globals, find the memories.
  let importedFuncs = 0;
  let importedGlobals = 0;
  const memories: MemoryDef[] = [];
  const imports = find(SECTION_IMPORT);
  if (imports) {
    const ir = new WasmReader(bytes, imports.payload, imports.end);
    const count = ir.u32();
    for (let i = 0; i < count; i++) {
      const from = ir.name();
      const name = ir.name();
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
          memories.push(readMemory(
            ir,
            memories.length,
            `memory ${memories.length} (imported as "${from}"."${name}")`,
          ));
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
  const memorySection = find(SECTION_MEMORY);
  if (memorySection) {
    const mr = new WasmReader(bytes, memorySection.payload, memorySection.end);
    const count = mr.u32();
    for (let i = 0; i < count; i++) {
      const index = memories.length;
      memories.push(readMemory(mr, index, `memory ${index}`));
    }
  }
  if (limit !== undefined) checkMemories(memories, limit);

  const globals = find(SECTION_GLOBAL);
  const definedGlobals = globals
    ? new WasmReader(bytes, globals.payload, globals.end).u32()
    : 0;
  const fuelIndex = importedGlobals + definedGlobals;
  const limitIndex = fuelIndex + 1;

  // Exports: refuse a clash with the new exports' names.
  const newNames = limit === undefined
    ? [opts.exportName]
    : [opts.exportName, opts.limitExport];
  const exports = find(SECTION_EXPORT);
  if (exports) {
    const er = new WasmReader(bytes, exports.payload, exports.end);
    const count = er.u32();
    for (let i = 0; i < count; i++) {
      const name = er.name();
      if (newNames.includes(name)) {
        throw new MeterError(`the module already exports "${name}"`);
      }
      er.u8();
      er.u32();
    }
  }

  // Scan every body first: the grow functions' indexes depend on them all.
  const code = find(SECTION_CODE);
  const bodies = code
    ? scanCode(bytes, code, importedFuncs, limit !== undefined)
    : [];
  const grown = [
    ...new Set(
      bodies.flatMap((b) =>
        b.sites.flatMap((s) => "memory" in s ? [s.memory] : [])
      ),
    ),
  ].sort((a, b) => a - b);
  const functions = find(SECTION_FUNCTION);
  const definedFuncs = functions
    ? new WasmReader(bytes, functions.payload, functions.end).u32()
    : 0;
  const growFunc = new Map(
    grown.map((m, i) => [m, importedFuncs + definedFuncs + i]),
  );
  const types = find(SECTION_TYPE);
  let growType: { index: number; append: boolean } | undefined;
  if (grown.length > 0) {
    if (!types || !functions) {
      throw new MeterError("memory.grow in a module without functions");
    }
    growType = findGrowType(bytes, types);
  }

  const newGlobals = [
    concat([
      Uint8Array.of(0x7e, 0x01, 0x42), // i64, mut, i64.const
      encodeS64(opts.initialFuel),
      Uint8Array.of(0x0b), // end
    ]),
  ];
  const newExports = [
    concat([
      encodeName(opts.exportName),
      Uint8Array.of(EXTERNAL_GLOBAL),
      encodeU32(fuelIndex),
    ]),
  ];
  if (limit !== undefined) {
    // i32, mut, i32.const 0, end
    newGlobals.push(Uint8Array.of(0x7f, 0x01, 0x41, 0x00, 0x0b));
    newExports.push(concat([
      encodeName(opts.limitExport),
      Uint8Array.of(EXTERNAL_GLOBAL),
      encodeU32(limitIndex),
    ]));
  }

  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  let globalDone = false;
  let exportDone = false;
  const emitMissing = (rank: number) => {
    if (!globalDone && rank > SECTION_RANK[SECTION_GLOBAL]) {
      out.push(section(SECTION_GLOBAL, [
        encodeU32(newGlobals.length),
        ...newGlobals,
      ]));
      globalDone = true;
    }
    if (!exportDone && rank > SECTION_RANK[SECTION_EXPORT]) {
      out.push(section(SECTION_EXPORT, [
        encodeU32(newExports.length),
        ...newExports,
      ]));
      exportDone = true;
    }
  };
  /** The section with `added` more entries appended, and some bytes edited. */
  const extended = (
    s: Section,
    added: Uint8Array[],
    edits: Edit[] = [],
  ): Uint8Array => {
    if (added.length === 0 && edits.length === 0) return copy(bytes, s);
    const sr = new WasmReader(bytes, s.payload, s.end);
    const count = sr.u32();
    return section(s.id, [
      encodeU32(count + added.length),
      ...splice(bytes, sr.pos, s.end, edits),
      ...added,
    ]);
  };
  const limitEdits = (s: Section): Edit[] =>
    limit === undefined ? [] : memories
      .filter((m) => m.start >= s.payload && m.end <= s.end)
      .map((m) => ({
        at: m.start,
        end: m.end,
        insert: concat([
          Uint8Array.of(0x01), // flags: has a maximum
          encodeU32(m.min!),
          encodeU32(Math.min(m.max ?? limit, limit)),
        ]),
      }));

  for (const s of sections) {
    if (s.id !== SECTION_CUSTOM) emitMissing(SECTION_RANK[s.id]);
    switch (s.id) {
      case SECTION_GLOBAL:
        out.push(extended(s, newGlobals));
        globalDone = true;
        break;
      case SECTION_EXPORT:
        out.push(extended(s, newExports));
        exportDone = true;
        break;
      case SECTION_IMPORT:
      case SECTION_MEMORY:
        out.push(extended(s, [], limitEdits(s)));
        break;
      case SECTION_TYPE:
        out.push(growType?.append ? extended(s, [GROW_TYPE]) : copy(bytes, s));
        break;
      case SECTION_FUNCTION:
        out.push(extended(s, grown.map(() => encodeU32(growType!.index))));
        break;
      case SECTION_CODE: {
        const fuel = encodeU32(fuelIndex);
        const entries = bodies.map((b) => meterBody(bytes, b, fuel, growFunc));
        for (const m of grown) entries.push(growBody(m, limit!, limitIndex));
        out.push(section(SECTION_CODE, [
          encodeU32(entries.length),
          ...entries.map((e) => concat([encodeU32(e.length), e])),
        ]));
        break;
      }
      default:
        out.push(copy(bytes, s));
    }
  }
  emitMissing(Infinity);
  return concat(out);
}

function section(id: number, parts: Uint8Array[]): Uint8Array {
  const payload = concat(parts);
  return concat([Uint8Array.of(id), encodeU32(payload.length), payload]);
}

function copy(bytes: Uint8Array, s: Section): Uint8Array {
  return bytes.subarray(s.start, s.end);
}

/**
 * A scanned function body with its charges inserted and its `memory.grow`
 * instructions replaced by calls (`growFunc`: memory index to function).
 */
function meterBody(
  bytes: Uint8Array,
  body: ScannedBody,
  fuel: Uint8Array,
  growFunc: ReadonlyMap<number, number>,
): Uint8Array {
  const edits = body.sites.map((site): Edit =>
    "memory" in site
      ? {
        at: site.at,
        end: site.end,
        insert: concat([
          Uint8Array.of(0x10), // call
          encodeU32(growFunc.get(site.memory)!),
        ]),
      }
      : {
        at: site.at,
        end: site.at,
        insert: charge(fuel, body.costs[site.region]),
      }
  );
  return concat(splice(bytes, body.start, body.end, edits));
}

/** `bytes[from, to)` with `edits` (sorted, not overlapping) applied. */
function splice(
  bytes: Uint8Array,
  from: number,
  to: number,
  edits: readonly Edit[],
): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = from;
  for (const e of edits) {
    parts.push(bytes.subarray(at, e.at), e.insert);
    at = e.end;
  }
  parts.push(bytes.subarray(at, to));
  return parts;
}

/** Reads the limits (flags, min, max) of memory `index`. */
function readMemory(r: WasmReader, index: number, label: string): MemoryDef {
  const start = r.pos;
  const flags = r.u32();
  let min: number | undefined, max: number | undefined;
  if (flags & 0x04) { // 64-bit: the sizes are u64
    r.skipLeb(64);
    if (flags & 1) r.skipLeb(64);
  } else {
    min = r.u32();
    if (flags & 1) max = r.u32();
  }
  if (flags & 0x08) r.u32(); // custom page size (log2)
  return { index, label, flags, min, max, start, end: r.pos };
}

/** Refuses memories the limit cannot apply to, or that start above it. */
function checkMemories(memories: MemoryDef[], limit: number): void {
  for (const m of memories) {
    const refuse = (what: string): never => {
      throw new MeterError(
        `the module's ${m.label} is ${what}, which the memory limit does not support`,
      );
    };
    if (m.flags & 0x02) refuse("shared (threads)");
    if (m.flags & 0x04) refuse("a 64-bit memory (memory64)");
    if (m.flags & ~0x01) refuse(`declared with limits flags ${hex(m.flags)}`);
    if (m.min! > limit) {
      const pages = (n: number) =>
        `${n} page${n === 1 ? "" : "s"} (${formatPages(n)})`;
      throw new MemoryLimitError(
        `the module's ${m.label} starts at ${pages(m.min!)}, ` +
          `more than the limit of ${pages(limit)}`,
        m.index,
        m.min!,
        limit,
      );
    }
  }
}

/**
 * The index of a `(i32) -> (i32)` type: an identical existing one, or one
 * to append (which shifts no index).
 */
function findGrowType(
  bytes: Uint8Array,
  s: Section,
): { index: number; append: boolean } {
  const r = new WasmReader(bytes, s.payload, s.end);
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    const start = r.pos;
    const form = r.u8();
    if (form !== 0x60) {
      throw new MeterError(
        `type ${i} has form ${hex(form)} (GC types), ` +
          "which the memory limit does not support",
      );
    }
    for (let vecs = 0; vecs < 2; vecs++) { // params, results
      const n = r.u32();
      for (let j = 0; j < n; j++) r.skipValType();
    }
    const entry = bytes.subarray(start, r.pos);
    if (
      entry.length === GROW_TYPE.length &&
      entry.every((b, k) => b === GROW_TYPE[k])
    ) {
      return { index: i, append: false };
    }
  }
  return { index: count, append: true };
}

/**
 * The body of the function that stands for `memory.grow` on memory `m`:
 *
 * ```wat
 * (func (param $delta i32) (result i32)
 *   (if (i64.gt_u (i64.add (i64.extend_i32_u (local.get $delta))
 *                          (i64.extend_i32_u (memory.size m)))
 *                 (i64.const limit))
 *     (then (global.set $limit (i32.const 1)) unreachable))
 *   (memory.grow m (local.get $delta)))
 * ```
 */
function growBody(m: number, limit: number, limitIndex: number): Uint8Array {
  const mem = encodeU32(m);
  return concat([
    Uint8Array.of(0x00), // no locals
    Uint8Array.of(0x20, 0x00, 0xad, 0x3f), // local.get 0, i64.extend_i32_u, memory.size
    mem,
    Uint8Array.of(0xad, 0x7c, 0x42), // i64.extend_i32_u, i64.add, i64.const
    encodeS64(BigInt(limit)),
    Uint8Array.of(0x56, 0x04, 0x40, 0x41, 0x01, 0x24), // i64.gt_u, if, i32.const 1, global.set
    encodeU32(limitIndex),
    Uint8Array.of(0x00, 0x0b), // unreachable, end
    Uint8Array.of(0x20, 0x00, 0x40), // local.get 0, memory.grow
    mem,
    Uint8Array.of(0x0b), // end
  ]);
}

function scanCode(
  bytes: Uint8Array,
  s: Section,
  importedFuncs: number,
  replaceGrow: boolean,
): ScannedBody[] {
  const r = new WasmReader(bytes, s.payload, s.end);
  const count = r.u32();
  const bodies: ScannedBody[] = [];
  for (let i = 0; i < count; i++) {
    const size = r.u32();
    const start = r.pos;
    r.skip(size);
    bodies.push(scanBody(
      new WasmReader(bytes, start, r.pos),
      importedFuncs + i,
      replaceGrow,
    ));
  }
  if (!r.done) throw new MeterError("trailing bytes in the code section");
  return bodies;
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

/**
 * Scans one function body (locals + expression) read from `r`: the cost of
 * each region, where to charge it and, with `replaceGrow`, where the
 * `memory.grow` instructions are.
 */
function scanBody(
  r: WasmReader,
  funcIndex: number,
  replaceGrow: boolean,
): ScannedBody {
  const bodyStart = r.pos;
  const localGroups = r.u32();
  for (let i = 0; i < localGroups; i++) {
    r.u32();
    r.skipValType();
  }

  // Region 0 is the function body; each loop opens a new region. `frames`
  // holds the region of every open control frame (function, block, loop, if).
  const costs: number[] = [0];
  const sites: ScannedBody["sites"] = [{ at: r.pos, region: 0 }];
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
      skipMemarg(r);
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
        sites.push({ at: r.pos, region: inner });
        break;
      }
      case 0x0b: // end
        frames.pop();
        break;
      case 0x40: { // memory.grow memidx
        const memory = r.u32();
        if (replaceGrow) sites.push({ at, end: r.pos, memory });
        break;
      }
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
  return { start: bodyStart, end: r.end, sites, costs };
}

/**
 * Skips a memarg: alignment flags, the memory index when flag bit 6 is set
 * (multi-memory), and the offset.
 */
function skipMemarg(r: WasmReader): void {
  const align = r.u32();
  if (align & 0x40) r.skipLeb(32);
  r.skipLeb(64);
}

/** Skips a block type: 0x40, a value type, or an s33 type index. */
function skipBlockType(r: WasmReader): void {
  const b = r.peek();
  if (b === 0x63 || b === 0x64) r.skipValType();
  else r.skipLeb(33);
}
