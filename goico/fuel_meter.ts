/**
 * Fuel metering for untrusted WebAssembly: rewrites a module binary so that it
 * charges an instruction budget ("fuel") and stops when the budget runs out.
 * It works in any isolate, unlike `worker.terminate()`, which does not stop a
 * thread spinning in wasm. It can also cap what the module allocates (see
 * "Memory limit") and let the host stop it at a deadline (see "Interrupts").
 *
 * The rewritten module has one more global, a mutable i64 exported as
 * `__fuel` (see {@link MeterOptions}). The host sets it before each call and
 * reads it after: fuel used = value set - value left. When the value drops
 * below zero the module executes `unreachable` (a `WebAssembly.RuntimeError`),
 * or, with `interrupt`, asks the host first.
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
 * **Work, not instructions.** One bulk instruction can do a lot of work:
 * `memory.fill`, `memory.copy` and `memory.init` also cost one unit per
 * {@link BYTES_PER_FUEL} bytes of their length, `table.fill`, `table.copy`,
 * `table.init` and `table.grow` {@link FUEL_PER_TABLE_ELEMENT} units per
 * element (both measured against ordinary instructions on V8). Each becomes a call of
 * a function appended after the module's own (no index shifts) that charges
 * the length, before the work is done, and then runs the instruction.
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
 * instantiation, so it traps there unless an initial budget is given (or
 * `interrupt` is on, which moves the start function to an export).
 *
 * ## Memory limit
 *
 * With {@link MeterOptions.memoryLimitPages} (64 KiB pages) the limit covers
 * everything the module can allocate: its memory and its tables, whose
 * elements count {@link TABLE_ELEMENT_BYTES} bytes each. The module gets a
 * mutable i32 global exported as `__limit`, initially 0, and:
 *
 * - a module with more than one memory is refused (multi-memory would
 *   multiply the limit), as are shared and 64-bit memories and tables and
 *   more than {@link MAX_TABLES} tables, with a {@link MeterError};
 * - the memory and every table get a maximum of at most the limit (a larger
 *   maximum is lowered, a missing one set), so neither the module nor the
 *   host can grow one past it; an imported one must then be provided with a
 *   maximum within the limit. When the memory's and the tables' initial
 *   sizes add up to more than the limit, a {@link MemoryLimitError};
 * - every `memory.grow` and `table.grow` becomes a call of an appended
 *   function that adds up what the memory and the tables hold now plus the
 *   delta (in i64, so nothing wraps): above the limit it sets `__limit` to
 *   1 and executes `unreachable`; otherwise it grows. A grow that stays
 *   within the limit but passes the module's own, lower, maximum still
 *   returns -1 as usual. So after a trap, `__limit` = 1 means the memory
 *   limit stopped the module. The memory grow functions are not metered:
 *   the `memory.grow` they stand for is counted in its caller, so the fuel
 *   used is the same with or without the limit.
 *
 * ```ts
 * const metered = meterFuel(bytes, { memoryLimitPages: 256 }); // 16 MiB
 * ```
 *
 * ## Interrupts
 *
 * With {@link MeterOptions.interrupt} the host can stop a running module at
 * a deadline, the way wasmtime's epoch interruption does, from another
 * thread: the module takes its fuel in slices of {@link FUEL_SLICE} from a
 * budget (an i64 global exported as `__budget`), and each time a slice runs
 * out the charge first reads two i32 flags the host may raise in a shared
 * memory, and traps when one is set (at offset 0: stop this call; at 4:
 * stop everything). So a module stops within one slice of work (about a
 * millisecond) of the host raising a flag, and its fast path is the same
 * as without interrupts: nothing is called out of the module, and the
 * refill is inline in each charge (a call there slowed loops by 30%).
 *
 * The flags memory is imported as `"__jobico"."flags"` (one page, shared).
 * Imported memories come first in the index space, so the module's own
 * memory is moved to an import too, `"__jobico"."memory"`, with the same
 * limits (capped by the memory limit), recorded as JSON (`{"initial": n,
 * "maximum": m}`) in a custom section named `jobico.memory`: the host makes
 * that memory and passes it in (the module's data segments still fill it at
 * instantiation). The module's memory keeps index 0, the flags get index 1
 * (0 for a module without memory). The host sets `__fuel` to a slice and
 * `__budget` to the rest before a call; fuel used = total - budget - fuel.
 * The start section, if any, is removed and its function exported as
 * `__start`, so no code runs during instantiation, before the host has set
 * the fuel; the host calls `__start` first.
 *
 * @module
 */
import { WasmFormatError, WasmReader } from "./_wasm_reader.ts";
import { concat, encodeName, encodeS64, encodeU32 } from "./_wasm_writer.ts";
import {
  EXTERNAL_FUNC,
  EXTERNAL_GLOBAL,
  EXTERNAL_MEMORY,
  type LimitsDef,
  type ModuleInfo,
  readModule,
  type Section,
  SECTION_CODE,
  SECTION_CUSTOM,
  SECTION_EXPORT,
  SECTION_FUNCTION,
  SECTION_GLOBAL,
  SECTION_IMPORT,
  SECTION_MEMORY,
  SECTION_RANK,
  SECTION_START,
  SECTION_TABLE,
  SECTION_TYPE,
  UnsupportedModule,
} from "./_meter_module.ts";
import {
  BYTES_PER_FUEL,
  charge,
  FUEL_PER_TABLE_ELEMENT,
  FUEL_SLICE,
  helperBody,
  type HelperContext,
  type HelperKey,
  helperType,
  scanBody,
  type ScannedBody,
  TABLE_ELEMENT_BYTES,
} from "./_meter_code.ts";

export {
  BYTES_PER_FUEL,
  FUEL_PER_TABLE_ELEMENT,
  FUEL_SLICE,
  TABLE_ELEMENT_BYTES,
};

/** The most tables a module may have under a memory limit. */
export const MAX_TABLES = 100;

/**
 * Options of {@link meterFuel}.
 *
 * @example
 * ```ts
 * // 128 MiB at most, and a flag the host can raise to stop it.
 * const metered = meterFuel(bytes, { memoryLimitPages: 2048, interrupt: true });
 * ```
 */
export interface MeterOptions {
  /**
   * Name of the exported fuel global.
   *
   * @default {"__fuel"}
   */
  exportName?: string;
  /**
   * Initial value of the fuel global, i.e. the budget of the module's start
   * function (run during instantiation).
   *
   * @default {0n}
   */
  initialFuel?: bigint;
  /**
   * The most memory the module may have, in 64 KiB pages, its memory and
   * tables together (an integer from 0 to 65536). Unset, memories and
   * tables are left as they are and no limit global is added.
   *
   * @default {undefined}
   */
  memoryLimitPages?: number;
  /**
   * Name of the exported i32 global that turns 1 when the memory limit
   * stopped the module (only with `memoryLimitPages`).
   *
   * @default {"__limit"}
   */
  limitExport?: string;
  /**
   * Let the host stop the module by raising a flag in a shared memory,
   * checked each time a slice of fuel runs out (see "Interrupts").
   *
   * @default {false}
   */
  interrupt?: boolean;
  /**
   * The most bytes the metered module may take: each loop and branch gets
   * a charge of some 30-80 bytes, so a module of nothing but tiny loops
   * grows about twelvefold (16 MiB to 190). Past it, `MeterError`.
   *
   * @default {50331648} (48 MiB)
   */
  maxBytes?: number;
}

/** The default of {@linkcode MeterOptions.maxBytes}. */
export const MAX_METERED_BYTES = 48 * 1024 * 1024;

/** What `interrupt` adds: the budget global and the start function's exports. */
export const BUDGET_EXPORT = "__budget";
export const START_EXPORT = "__start";
/** The namespace of the memories `interrupt` imports. */
export const HOST_MODULE = "__jobico";
/** The custom section with the moved memory's limits. */
export const MEMORY_SECTION = "jobico.memory";

/** The options with their defaults applied. */
interface ResolvedOptions {
  maxBytes: number;
  exportName: string;
  initialFuel: bigint;
  memoryLimitPages?: number;
  limitExport: string;
  interrupt: boolean;
}

/** The module cannot be metered: not valid wasm, or an unsupported opcode. */
export class MeterError extends Error {
  override name = "MeterError";
}

/** What the module allocates at the start is more than `memoryLimitPages`. */
export class MemoryLimitError extends MeterError {
  override name = "MemoryLimitError";
  constructor(
    message: string,
    /** index of the (first) memory or table in its index space */
    readonly memoryIndex: number,
    /** what it starts with, in pages (tables counted in bytes / 64 KiB) */
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
const PAGE = 65536;

/** Replace `bytes[at, end)` with `insert` (end = at for an insertion). */
interface Edit {
  at: number;
  end: number;
  insert: Uint8Array;
}

/**
 * Returns a new module binary where every function entry and every loop
 * header charges fuel, and bulk instructions charge their length; when fuel
 * goes below zero the module traps with `unreachable` (or, with
 * `interrupt`, asks the host). With `memoryLimitPages`, what the module
 * allocates is capped too (see the module documentation).
 *
 * @throws {MeterError} when `bytes` is not a valid module, uses an opcode
 * the meter does not know, already exports a name the meter adds, or (with
 * a memory limit) has several, shared or 64-bit memories, 64-bit tables or
 * too many tables.
 * @throws {MemoryLimitError} when the memory and tables start above
 * `memoryLimitPages`.
 * @throws {RangeError} when `memoryLimitPages` is not an integer from 0 to
 * 65536.
 */
export function meterFuel(
  bytes: Uint8Array,
  options: MeterOptions = {},
): Uint8Array {
  const opts: ResolvedOptions = {
    maxBytes: options.maxBytes ?? MAX_METERED_BYTES,
    exportName: options.exportName ?? "__fuel",
    initialFuel: options.initialFuel ?? 0n,
    memoryLimitPages: options.memoryLimitPages,
    limitExport: options.limitExport ?? "__limit",
    interrupt: options.interrupt ?? false,
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
    return rewrite(readModule(bytes), opts);
  } catch (err) {
    if (err instanceof WasmFormatError) {
      throw new MeterError(`malformed WebAssembly module: ${err.message}`);
    }
    if (err instanceof UnsupportedModule) throw new MeterError(err.message);
    throw err;
  }
}

function rewrite(m: ModuleInfo, opts: ResolvedOptions): Uint8Array {
  const { bytes } = m;
  const limit = opts.memoryLimitPages;
  if (limit !== undefined) checkAllocations(m, limit);

  const fuelIndex = m.importedGlobals + m.definedGlobals;
  const limitIndex = fuelIndex + 1;
  const budgetIndex = fuelIndex + (limit === undefined ? 1 : 2);
  const code = m.find(SECTION_CODE);
  const interrupt = opts.interrupt && code !== undefined;
  const moveStart = opts.interrupt && m.startFunc !== undefined;
  if (interrupt && m.memories.length > 1) {
    throw new MeterError(
      `the module has ${m.memories.length} memories; interrupts support one`,
    );
  }
  /** The defined memory that interrupts move to an import. */
  const moved = interrupt ? m.memories.find((d) => !d.imported) : undefined;

  const newNames = [opts.exportName];
  if (limit !== undefined) newNames.push(opts.limitExport);
  if (interrupt) newNames.push(BUDGET_EXPORT);
  if (moveStart) newNames.push(START_EXPORT);
  for (const name of m.exportNames) {
    if (newNames.includes(name)) {
      throw new MeterError(`the module already exports "${name}"`);
    }
  }

  // Scan every body first: the helpers' indexes depend on them all.
  const bodies = code ? scanCode(bytes, code, m.importedFuncs, limit) : [];
  const helpers: HelperKey[] = [];
  for (const b of bodies) {
    for (const s of b.sites) {
      if ("helper" in s && !helpers.includes(s.helper)) helpers.push(s.helper);
    }
  }
  const firstAppended = m.importedFuncs + m.definedFuncs;
  const helperFunc = new Map(helpers.map((h, i) => [h, firstAppended + i]));
  const ctx: HelperContext = {
    fuel: fuelIndex,
    limit: limit === undefined
      ? undefined
      : { global: limitIndex, bytes: limit * PAGE },
    interrupt: interrupt
      ? { budget: budgetIndex, flags: m.memories.length }
      : undefined,
    memories: m.memories.length,
    tables: m.tables,
  };

  // Types: reuse identical ones, append the others (no index shifts).
  const newTypes: Uint8Array[] = [];
  const typeIndex = (t: Uint8Array): number => {
    const same = (u: Uint8Array) =>
      u.length === t.length && u.every((b, k) => b === t[k]);
    const found = m.types.findIndex(same);
    if (found >= 0) return found;
    const added = newTypes.findIndex(same);
    if (added >= 0) return m.types.length + added;
    newTypes.push(t);
    return m.types.length + newTypes.length - 1;
  };
  const newFuncTypes = helpers.map((h) => typeIndex(helperType(h, ctx)));
  const newBodies = helpers.map((h) => helperBody(h, ctx));
  if (newFuncTypes.length > 0 && (!m.find(SECTION_TYPE) || !code)) {
    throw new MeterError("the module has code but no type section");
  }

  const added = new Map<number, Uint8Array[]>();
  const add = (id: number, entry: Uint8Array) =>
    added.set(id, [...added.get(id) ?? [], entry]);
  for (const t of newTypes) add(SECTION_TYPE, t);
  for (const t of newFuncTypes) add(SECTION_FUNCTION, encodeU32(t));
  add(
    SECTION_GLOBAL,
    concat([
      Uint8Array.of(0x7e, 0x01, 0x42), // i64, mut, i64.const
      encodeS64(opts.initialFuel),
      Uint8Array.of(0x0b), // end
    ]),
  );
  const exportEntry = (name: string, kind: number, index: number) =>
    concat([encodeName(name), Uint8Array.of(kind), encodeU32(index)]);
  add(SECTION_EXPORT, exportEntry(opts.exportName, EXTERNAL_GLOBAL, fuelIndex));
  if (limit !== undefined) {
    // i32, mut, i32.const 0, end
    add(SECTION_GLOBAL, Uint8Array.of(0x7f, 0x01, 0x41, 0x00, 0x0b));
    add(
      SECTION_EXPORT,
      exportEntry(opts.limitExport, EXTERNAL_GLOBAL, limitIndex),
    );
  }
  const capPages = (d: LimitsDef) =>
    limit === undefined ? d.max : Math.min(d.max ?? limit, limit);
  if (interrupt) {
    add(SECTION_GLOBAL, Uint8Array.of(0x7e, 0x01, 0x42, 0x00, 0x0b)); // i64 0
    add(
      SECTION_EXPORT,
      exportEntry(BUDGET_EXPORT, EXTERNAL_GLOBAL, budgetIndex),
    );
    const memoryImport = (name: string, limits: Uint8Array) =>
      concat([
        encodeName(HOST_MODULE),
        encodeName(name),
        Uint8Array.of(EXTERNAL_MEMORY),
        limits,
      ]);
    if (moved) {
      const max = capPages(moved);
      add(
        SECTION_IMPORT,
        memoryImport(
          "memory",
          max === undefined
            ? concat([Uint8Array.of(0x00), encodeU32(moved.min!)])
            : concat([
              Uint8Array.of(0x01),
              encodeU32(moved.min!),
              encodeU32(max),
            ]),
        ),
      );
    }
    // One page, shared, maximum one page.
    add(SECTION_IMPORT, memoryImport("flags", Uint8Array.of(0x03, 0x01, 0x01)));
  }
  if (moveStart) {
    add(SECTION_EXPORT, exportEntry(START_EXPORT, EXTERNAL_FUNC, m.startFunc!));
  }

  /** The memories' and tables' limits inside `s`, capped. */
  const limitEdits = (s: Section): Edit[] => {
    if (limit === undefined) return [];
    const elements = Math.floor(limit * PAGE / TABLE_ELEMENT_BYTES);
    const capped = (d: LimitsDef, cap: number): Edit => ({
      at: d.start,
      end: d.end,
      insert: concat([
        Uint8Array.of(0x01), // flags: has a maximum
        encodeU32(d.min!),
        encodeU32(Math.min(d.max ?? cap, cap)),
      ]),
    });
    const inside = (d: LimitsDef) => d.start >= s.payload && d.end <= s.end;
    return [
      ...m.memories.filter((d) => inside(d) && d !== moved).map((d) =>
        capped(d, limit)
      ),
      ...m.tables.filter(inside).map((d) => capped(d, elements)),
    ].sort((a, b) => a.at - b.at);
  };

  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  const emitted = new Set<number>();
  /** Sections the module lacks but that get entries, placed by rank. */
  const emitMissing = (rank: number) => {
    for (const [id, entries] of added) {
      if (emitted.has(id) || m.find(id) || SECTION_RANK[id] >= rank) continue;
      out.push(section(id, [encodeU32(entries.length), ...entries]));
      emitted.add(id);
    }
  };
  for (const s of m.sections) {
    if (s.id !== SECTION_CUSTOM) emitMissing(SECTION_RANK[s.id]);
    emitted.add(s.id);
    switch (s.id) {
      case SECTION_START:
        if (!moveStart) out.push(copy(bytes, s));
        break;
      case SECTION_CODE: {
        // What the charges will add, counted before any body is written:
        // a module past the limit is refused without building it.
        let size = bytes.length - (s.end - s.payload);
        for (const b of bodies) {
          size += b.end - b.start + 5;
          for (const site of b.sites) {
            size += "helper" in site
              ? 6 - (site.end - site.at)
              : charge(ctx, b.costs[site.region]).length;
          }
          if (size > opts.maxBytes) {
            throw new MeterError(
              `metered, it would grow past ${formatMiB(opts.maxBytes)} ` +
                `(a charge for each of its loops and branches); the limit is ${
                  formatMiB(opts.maxBytes)
                }`,
            );
          }
        }
        const entries = bodies.map((b) => meterBody(bytes, b, ctx, helperFunc));
        entries.push(...newBodies);
        out.push(section(SECTION_CODE, [
          encodeU32(entries.length),
          ...entries.map((e) => concat([encodeU32(e.length), e])),
        ]));
        break;
      }
      case SECTION_MEMORY:
        // Its one memory moved to an import: the section goes.
        if (!moved) out.push(extended(bytes, s, [], limitEdits(s)));
        break;
      case SECTION_IMPORT:
      case SECTION_TABLE:
        out.push(extended(bytes, s, added.get(s.id) ?? [], limitEdits(s)));
        break;
      case SECTION_CUSTOM:
        // The name is the host's: a section the module brings under it
        // would be read as the memory the host must make.
        if (customName(bytes, s) !== MEMORY_SECTION) out.push(copy(bytes, s));
        break;
      default:
        out.push(extended(bytes, s, added.get(s.id) ?? []));
    }
  }
  emitMissing(Infinity);
  if (moved) {
    const limits = { initial: moved.min!, maximum: capPages(moved) };
    out.push(section(SECTION_CUSTOM, [
      encodeName(MEMORY_SECTION),
      new TextEncoder().encode(JSON.stringify(limits)),
    ]));
  }
  return concat(out);
}

/** The name of a custom section (its payload starts with it). */
function customName(bytes: Uint8Array, s: Section): string {
  return new WasmReader(bytes, s.payload, s.end).name();
}

/**
 * Refuses what the limit cannot cover, and a start above the limit: one
 * memory at most, 32-bit and not shared, at most MAX_TABLES tables of
 * 32-bit size, and the memory's and tables' initial sizes within the limit.
 */
function checkAllocations(m: ModuleInfo, limit: number): void {
  const refuse = (d: LimitsDef, what: string): never => {
    throw new MeterError(
      `the module's ${d.label} is ${what}, which the memory limit does not support`,
    );
  };
  if (m.memories.length > 1) {
    throw new MeterError(
      `the module has ${m.memories.length} memories; a module with a memory ` +
        "limit may have one (multi-memory would multiply the limit)",
    );
  }
  if (m.tables.length > MAX_TABLES) {
    throw new MeterError(
      `the module has ${m.tables.length} tables; a module with a memory ` +
        `limit may have at most ${MAX_TABLES}`,
    );
  }
  for (const d of m.memories) {
    if (d.flags & 0x02) refuse(d, "shared (threads)");
    if (d.flags & 0x04) refuse(d, "a 64-bit memory (memory64)");
    if (d.flags & ~0x01) {
      refuse(d, `declared with limits flags ${hex(d.flags)}`);
    }
  }
  for (const d of m.tables) {
    if (d.flags & 0x04) refuse(d, "a 64-bit table (table64)");
    if (d.flags & ~0x01) {
      refuse(d, `declared with limits flags ${hex(d.flags)}`);
    }
  }
  const pages = (n: number) =>
    `${n} page${n === 1 ? "" : "s"} (${formatPages(n)})`;
  for (const d of m.memories) {
    if (d.min! > limit) {
      throw new MemoryLimitError(
        `the module's ${d.label} starts at ${pages(d.min!)}, ` +
          `more than the limit of ${pages(limit)}`,
        d.index,
        d.min!,
        limit,
      );
    }
  }
  const memoryBytes = m.memories.reduce((n, d) => n + d.min! * PAGE, 0);
  const tableElements = m.tables.reduce((n, d) => n + d.min!, 0);
  const total = memoryBytes + tableElements * TABLE_ELEMENT_BYTES;
  if (total > limit * PAGE) {
    const first = m.tables.find((d) => d.min! > 0) ?? m.tables[0];
    throw new MemoryLimitError(
      `the module's tables start with ${tableElements} elements ` +
        `(${TABLE_ELEMENT_BYTES} bytes each) which, with its memory, is ` +
        `${formatBytes(total)}, more than the limit of ${pages(limit)}`,
      first.index,
      Math.ceil(total / PAGE),
      limit,
    );
  }
}

function formatBytes(n: number): string {
  return n < PAGE ? `${n} bytes` : formatPages(n / PAGE);
}

function section(id: number, parts: Uint8Array[]): Uint8Array {
  const payload = concat(parts);
  return concat([Uint8Array.of(id), encodeU32(payload.length), payload]);
}

function copy(bytes: Uint8Array, s: Section): Uint8Array {
  return bytes.subarray(s.start, s.end);
}

/** The section with `entries` appended, and some bytes edited. */
function extended(
  bytes: Uint8Array,
  s: Section,
  entries: Uint8Array[],
  edits: Edit[] = [],
): Uint8Array {
  if (entries.length === 0 && edits.length === 0) return copy(bytes, s);
  const r = new WasmReader(bytes, s.payload, s.end);
  const count = r.u32();
  return section(s.id, [
    encodeU32(count + entries.length),
    ...splice(bytes, r.pos, s.end, edits),
    ...entries,
  ]);
}

/**
 * A scanned function body with its charges inserted and the instructions
 * that helpers stand for replaced by calls.
 */
function meterBody(
  bytes: Uint8Array,
  body: ScannedBody,
  ctx: HelperContext,
  helperFunc: ReadonlyMap<HelperKey, number>,
): Uint8Array {
  const edits = body.sites.map((site): Edit =>
    "helper" in site
      ? {
        at: site.at,
        end: site.end,
        insert: concat([
          Uint8Array.of(0x10), // call
          encodeU32(helperFunc.get(site.helper)!),
        ]),
      }
      : {
        at: site.at,
        end: site.at,
        insert: charge(ctx, body.costs[site.region]),
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

function scanCode(
  bytes: Uint8Array,
  s: Section,
  importedFuncs: number,
  limit: number | undefined,
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
      limit !== undefined,
    ));
  }
  if (!r.done) throw new MeterError("trailing bytes in the code section");
  return bodies;
}

function formatMiB(bytes: number): string {
  return bytes % (1024 * 1024) === 0
    ? `${bytes / 1024 / 1024} MiB`
    : `${bytes} bytes`;
}

function hex(op: number): string {
  return "0x" + op.toString(16).padStart(2, "0");
}
