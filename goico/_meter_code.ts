/**
 * The code side of the fuel meter: scanning function bodies for charge
 * points and for the instructions it replaces, and the bodies of the
 * functions it appends (helpers that stand for `memory.grow`, the bulk
 * memory and table instructions and `table.grow`), and, for interrupts, the
 * refill each charge runs when its slice is spent. Private to the fuel
 * meter.
 *
 * @module
 */
import { WasmReader } from "./_wasm_reader.ts";
import { concat, encodeS64, encodeU32 } from "./_wasm_writer.ts";
import {
  EXTERNREF,
  FUNCREF,
  type TableDef,
  UnsupportedModule,
} from "./_meter_module.ts";

/**
 * Bytes of memory that cost one unit of fuel in bulk memory instructions
 * (measured: a `memory.fill` of 100 MiB takes about as long per 4 bytes as
 * an ordinary instruction).
 */
export const BYTES_PER_FUEL = 4;
/** log2 of {@link BYTES_PER_FUEL}. */
const BYTES_PER_FUEL_SHIFT = 2;
/**
 * Fuel one table element costs in bulk table instructions and `table.grow`
 * (measured: `table.fill` of a funcref table takes about 36 ns per element,
 * some 50 ordinary instructions).
 */
export const FUEL_PER_TABLE_ELEMENT = 64;
const FUEL_PER_TABLE_ELEMENT_SHIFT = 6;
/**
 * Bytes a table element counts for against the memory limit (an engine
 * keeps a pointer and a dispatch entry per element, and a grown table is
 * copied: measured about 70 bytes per element at the peak of a grow).
 */
export const TABLE_ELEMENT_BYTES = 64;
const TABLE_ELEMENT_SHIFT = 6;

const I32 = 0x7f;

/** A replaced instruction's helper, e.g. `memory.fill 0` or `table.grow 1`. */
export type HelperKey = string;

export type Site =
  /** A charge point: the cost of `region` is charged here. */
  | { at: number; region: number }
  /** `bytes[at, end)` becomes a call of the helper `helper`. */
  | { at: number; end: number; helper: HelperKey };

/** A function body as scanned: its byte range and the edits it needs. */
export interface ScannedBody {
  start: number;
  end: number;
  sites: Site[];
  costs: number[];
}

function hex(op: number): string {
  return "0x" + op.toString(16).padStart(2, "0");
}

/**
 * Scans one function body (locals + expression) read from `r`: the cost of
 * each region, where to charge it, and which instructions to replace by a
 * helper (the bulk memory and table instructions always, `memory.grow` when
 * `replaceGrow`).
 */
export function scanBody(
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
  const sites: Site[] = [{ at: r.pos, region: 0 }];
  const frames: number[] = [0];
  const fail = (what: string, at: number): never => {
    throw new UnsupportedModule(
      `unsupported opcode ${what} in function ${funcIndex} ` +
        `(byte offset ${at}): the module cannot be metered`,
    );
  };
  const replace = (at: number, helper: HelperKey) =>
    sites.push({ at, end: r.pos, helper });

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
        if (replaceGrow) replace(at, `memory.grow ${memory}`);
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
            replace(at, `memory.init ${r.u32()} ${r.u32()}`);
            break;
          case 10: // memory.copy dst src
            replace(at, `memory.copy ${r.u32()} ${r.u32()}`);
            break;
          case 11: // memory.fill memidx
            replace(at, `memory.fill ${r.u32()}`);
            break;
          case 12: // table.init elemidx tableidx
            replace(at, `table.init ${r.u32()} ${r.u32()}`);
            break;
          case 14: // table.copy dst src
            replace(at, `table.copy ${r.u32()} ${r.u32()}`);
            break;
          case 15: // table.grow tableidx
            replace(at, `table.grow ${r.u32()}`);
            break;
          case 17: // table.fill tableidx
            replace(at, `table.fill ${r.u32()}`);
            break;
          case 9: // data.drop
          case 13: // elem.drop
          case 16: // table.size
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
    throw new UnsupportedModule(
      `function ${funcIndex}: bytes after the final end`,
    );
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

/** What helper bodies refer to. */
export interface HelperContext {
  /** The fuel global's index. */
  fuel: number;
  /** The memory limit: the limit global's index and the limit in bytes. */
  limit?: { global: number; bytes: number };
  /**
   * With interrupts: the budget global's index and the flags memory's
   * index (see `refill`).
   */
  interrupt?: { budget: number; flags: number };
  /** Memories the module has (with a limit, at most one). */
  memories: number;
  /** The module's own tables (not the hooks table). */
  tables: TableDef[];
}

/** The encoding of a function type. */
export function funcType(params: number[], results: number[]): Uint8Array {
  return Uint8Array.of(
    0x60,
    params.length,
    ...params,
    results.length,
    ...results,
  );
}

function refType(ctx: HelperContext, table: number): number {
  const t = ctx.tables[table];
  if (!t || (t.refType !== FUNCREF && t.refType !== EXTERNREF)) {
    throw new UnsupportedModule(
      `${t?.label ?? `table ${table}`} holds typed references, ` +
        "which the meter does not support",
    );
  }
  return t.refType;
}

/** The type of a helper. */
export function helperType(key: HelperKey, ctx: HelperContext): Uint8Array {
  const [op, a] = key.split(" ");
  switch (op) {
    case "memory.grow":
      return funcType([I32], [I32]);
    case "table.grow":
      return funcType([refType(ctx, Number(a)), I32], [I32]);
    case "table.fill":
      return funcType([I32, refType(ctx, Number(a)), I32], []);
    default: // memory.fill/copy/init, table.copy/init: (i32 i32 i32) -> ()
      return funcType([I32, I32, I32], []);
  }
}

/** What runs when the fuel goes below zero: trap, or ask the host. */
function stop(ctx: HelperContext): Uint8Array {
  return ctx.interrupt === undefined
    ? Uint8Array.of(0x00) // unreachable
    : refill(ctx.fuel, ctx.interrupt.budget, ctx.interrupt.flags);
}

/**
 * The sequences a module's charge points share, made once per module: a
 * module with a loop in every few bytes has hundreds of thousands of
 * charge points, and building each one's bytes again cost about 50 µs
 * apiece (a 3 MB module took 15 s of the upload's thread).
 */
const made = new WeakMap<
  HelperContext,
  { check: Uint8Array; charges: Map<number, Uint8Array> }
>();

function madeFor(ctx: HelperContext) {
  let m = made.get(ctx);
  if (!m) {
    m = { check: checkFuelOnce(ctx), charges: new Map() };
    made.set(ctx, m);
  }
  return m;
}

/** `if (fuel < 0) stop` with the fuel global read. */
function checkFuel(ctx: HelperContext): Uint8Array {
  return madeFor(ctx).check;
}

function checkFuelOnce(ctx: HelperContext): Uint8Array {
  const fuel = encodeU32(ctx.fuel);
  return concat([
    Uint8Array.of(0x23),
    fuel,
    Uint8Array.of(0x42, 0x00, 0x53, 0x04, 0x40), // i64.const 0, i64.lt_s, if
    stop(ctx),
    Uint8Array.of(0x0b),
  ]);
}

/**
 * The charge sequence of a charge point: `fuel -= cost; if (fuel < 0)
 * stop`.
 */
export function charge(ctx: HelperContext, cost: number): Uint8Array {
  const { charges } = madeFor(ctx);
  let bytes = charges.get(cost);
  if (!bytes) {
    bytes = chargeOnce(ctx, cost);
    // Costs are a block's instruction counts: few distinct ones.
    if (charges.size < 4096) charges.set(cost, bytes);
  }
  return bytes;
}

function chargeOnce(ctx: HelperContext, cost: number): Uint8Array {
  const fuel = encodeU32(ctx.fuel);
  return concat([
    Uint8Array.of(0x23),
    fuel,
    Uint8Array.of(0x42),
    encodeS64(BigInt(cost)),
    Uint8Array.of(0x7d, 0x24), // i64.sub, global.set
    fuel,
    checkFuel(ctx),
  ]);
}

/**
 * `fuel -= local[n] >> shift` (or `<< -shift`) `; if (fuel < 0) stop`,
 * local n an i32 length.
 */
function chargeByLocal(
  ctx: HelperContext,
  local: number,
  shift: number,
): Uint8Array {
  const fuel = encodeU32(ctx.fuel);
  return concat([
    Uint8Array.of(0x23),
    fuel,
    Uint8Array.of(0x20, local, 0xad), // local.get, i64.extend_i32_u
    shift > 0
      ? Uint8Array.of(0x42, shift, 0x88) // i64.shr_u
      : Uint8Array.of(0x42, -shift, 0x86), // i64.shl
    Uint8Array.of(0x7d, 0x24), // i64.sub, global.set
    fuel,
    checkFuel(ctx),
  ]);
}

/**
 * `if (used + (local[n] << shift) > limit) { __limit = 1; unreachable }`,
 * where used is what the memory and the tables hold, in bytes (in i64, so
 * nothing wraps).
 */
function checkLimit(
  ctx: HelperContext,
  local: number,
  shift: number,
): Uint8Array {
  const limit = ctx.limit!;
  const parts: Uint8Array[] = [];
  // memory.size 0, i64.extend_i32_u, i64.const 16, i64.shl
  if (ctx.memories > 0) {
    parts.push(Uint8Array.of(0x3f, 0x00, 0xad, 0x42, 16, 0x86));
  } else parts.push(Uint8Array.of(0x42, 0x00));
  for (const t of ctx.tables) {
    parts.push(
      Uint8Array.of(0xfc, 16), // table.size
      encodeU32(t.index),
      Uint8Array.of(0xad, 0x42, TABLE_ELEMENT_SHIFT, 0x86, 0x7c), // extend, shl, add
    );
  }
  parts.push(
    Uint8Array.of(0x20, local, 0xad, 0x42, shift, 0x86, 0x7c), // + delta bytes
    Uint8Array.of(0x42),
    encodeS64(BigInt(limit.bytes)),
    Uint8Array.of(0x56, 0x04, 0x40, 0x41, 0x01, 0x24), // i64.gt_u, if, i32.const 1, global.set
    encodeU32(limit.global),
    Uint8Array.of(0x00, 0x0b), // unreachable, end
  );
  return concat(parts);
}

const get = (n: number) => Uint8Array.of(0x20, n);

/**
 * The body (locals and code) of a helper: it charges fuel for the work the
 * instruction will do, checks the memory limit for a grow, then runs the
 * instruction on its parameters.
 */
export function helperBody(key: HelperKey, ctx: HelperContext): Uint8Array {
  const [op, a, b] = key.split(" ");
  const ia = encodeU32(Number(a));
  const ib = b === undefined ? new Uint8Array() : encodeU32(Number(b));
  const memoryBytes = BYTES_PER_FUEL_SHIFT;
  const elements = -FUEL_PER_TABLE_ELEMENT_SHIFT;
  let code: Uint8Array[];
  switch (op) {
    case "memory.grow":
      // Not charged: the memory.grow it stands for was counted in its caller.
      code = [
        checkLimit(ctx, 0, 16),
        get(0),
        Uint8Array.of(0x40),
        ia,
      ];
      break;
    case "table.grow":
      code = [
        chargeByLocal(ctx, 1, elements),
        ctx.limit ? checkLimit(ctx, 1, TABLE_ELEMENT_SHIFT) : new Uint8Array(),
        get(0),
        get(1),
        Uint8Array.of(0xfc, 15),
        ia,
      ];
      break;
    case "memory.fill":
      code = [chargeByLocal(ctx, 2, memoryBytes), bulk(11, ia, ib)];
      break;
    case "memory.copy":
      code = [chargeByLocal(ctx, 2, memoryBytes), bulk(10, ia, ib)];
      break;
    case "memory.init":
      code = [chargeByLocal(ctx, 2, memoryBytes), bulk(8, ia, ib)];
      break;
    case "table.fill":
      code = [chargeByLocal(ctx, 2, elements), bulk(17, ia, ib)];
      break;
    case "table.copy":
      code = [chargeByLocal(ctx, 2, elements), bulk(14, ia, ib)];
      break;
    case "table.init":
      code = [chargeByLocal(ctx, 2, elements), bulk(12, ia, ib)];
      break;
    default:
      throw new Error(`unknown helper ${key}`);
  }
  return concat([Uint8Array.of(0x00), ...code, Uint8Array.of(0x0b)]);
}

/** `local.get 0 1 2; 0xfc sub a b`. */
function bulk(sub: number, a: Uint8Array, b: Uint8Array): Uint8Array {
  return concat([get(0), get(1), get(2), Uint8Array.of(0xfc, sub), a, b]);
}

/** Fuel a module metered with `interrupt` takes at a time from its budget. */
export const FUEL_SLICE = 1_000_000;

/**
 * What a charge of a module metered with `interrupt` runs when its slice is
 * spent, inline (a call here made V8 compile every loop with a charge about
 * 30% slower; inline, the loop runs as fast as with a plain trap):
 *
 * ```wat
 * ;; the host raised a flag: stop this call (i32 at 0) or all (at 4)
 * (if (i32.or (i32.load $flags (i32.const 0)) (i32.load $flags offset=4 (i32.const 0)))
 *   (then unreachable))
 * ;; the next slice, its overdraft paid from the budget
 * (global.set $budget (i64.sub (global.get $budget) (i64.sub (i64.const SLICE) (global.get $fuel))))
 * (global.set $fuel (i64.const SLICE))
 * ;; the last one: what is left
 * (if (i64.lt_s (global.get $budget) (i64.const 0)) (then
 *   (global.set $fuel (i64.add (global.get $fuel) (global.get $budget)))
 *   (global.set $budget (i64.const 0))
 *   (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable))))
 * ```
 */
function refill(fuel: number, budget: number, flagsMemory: number): Uint8Array {
  const f = encodeU32(fuel);
  const b = encodeU32(budget);
  const slice = concat([Uint8Array.of(0x42), encodeS64(BigInt(FUEL_SLICE))]);
  // i32.load align=4 from the flags memory at `offset`.
  const load = (offset: number) =>
    concat([
      Uint8Array.of(0x41, 0x00, 0x28),
      flagsMemory === 0
        ? Uint8Array.of(0x02)
        : concat([Uint8Array.of(0x42), encodeU32(flagsMemory)]),
      Uint8Array.of(offset),
    ]);
  const get = (g: Uint8Array) => concat([Uint8Array.of(0x23), g]);
  const set = (g: Uint8Array) => concat([Uint8Array.of(0x24), g]);
  return concat([
    load(0),
    load(4),
    Uint8Array.of(0x72, 0x04, 0x40, 0x00, 0x0b), // i32.or, if unreachable end
    get(b),
    slice,
    get(f),
    Uint8Array.of(0x7d, 0x7d), // i64.sub, i64.sub
    set(b),
    slice,
    set(f),
    get(b),
    Uint8Array.of(0x42, 0x00, 0x53, 0x04, 0x40), // i64.const 0, i64.lt_s, if
    get(f),
    get(b),
    Uint8Array.of(0x7c), // i64.add
    set(f),
    Uint8Array.of(0x42, 0x00), // i64.const 0
    set(b),
    get(f),
    Uint8Array.of(0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b), // < 0: unreachable
    Uint8Array.of(0x0b), // end
  ]);
}
