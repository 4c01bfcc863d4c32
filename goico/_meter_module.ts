/**
 * What the fuel meter needs to know about a module before it rewrites it:
 * its sections, how many functions, globals and tables it imports and
 * defines, its memories and tables with where their limits are encoded, its
 * start function and its export names. Private to the fuel meter.
 *
 * @module
 */
import { WasmReader } from "./_wasm_reader.ts";

export const SECTION_CUSTOM = 0;
export const SECTION_TYPE = 1;
export const SECTION_IMPORT = 2;
export const SECTION_FUNCTION = 3;
export const SECTION_TABLE = 4;
export const SECTION_MEMORY = 5;
export const SECTION_GLOBAL = 6;
export const SECTION_EXPORT = 7;
export const SECTION_START = 8;
export const SECTION_CODE = 10;

/** Position of each known section id in the required order (tag is 13). */
export const SECTION_RANK: Record<number, number> = {
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

export const EXTERNAL_FUNC = 0;
export const EXTERNAL_TABLE = 1;
export const EXTERNAL_MEMORY = 2;
export const EXTERNAL_GLOBAL = 3;

export const FUNCREF = 0x70;
export const EXTERNREF = 0x6f;

/** Thrown for what the meter cannot handle; turned into a `MeterError`. */
export class UnsupportedModule extends Error {}

export interface Section {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  /** Offset of the payload (after the size). */
  payload: number;
  /** Offset after the payload. */
  end: number;
}

/** A memory or a table and where its limits are encoded. */
export interface LimitsDef {
  /** Index in the module's memory (or table) index space. */
  index: number;
  /** True for an import, false for a definition. */
  imported: boolean;
  /** e.g. `memory 0` or `table 1 (imported as "env"."t")` */
  label: string;
  flags: number;
  /** Initial and maximum size; undefined for 64-bit ones. */
  min?: number;
  max?: number;
  /** Byte range of the limits. */
  start: number;
  end: number;
}

export interface TableDef extends LimitsDef {
  /** The element type's byte: 0x70 funcref, 0x6f externref, else typed. */
  refType: number;
}

export interface ModuleInfo {
  bytes: Uint8Array;
  sections: Section[];
  importedFuncs: number;
  definedFuncs: number;
  importedGlobals: number;
  definedGlobals: number;
  memories: LimitsDef[];
  tables: TableDef[];
  /** The function the start section names, if there is one. */
  startFunc?: number;
  exportNames: string[];
  /** The encoding of each type of the type section. */
  types: Uint8Array[];
  /** The imported functions, in order, with their type's index. */
  funcImports: { module: string; name: string; type: number }[];
  find(id: number): Section | undefined;
}

/** Reads the parts of `bytes` (a module already validated) the meter needs. */
export function readModule(bytes: Uint8Array): ModuleInfo {
  const r = new WasmReader(bytes);
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  for (const b of magic) {
    if (r.u8() !== b) {
      throw new UnsupportedModule("not a WebAssembly 1.0 binary");
    }
  }
  const sections: Section[] = [];
  while (!r.done) {
    const start = r.pos;
    const id = r.u8();
    const size = r.u32();
    const payload = r.pos;
    r.skip(size);
    if (id !== SECTION_CUSTOM && !(id in SECTION_RANK)) {
      throw new UnsupportedModule(
        `unknown section id ${id} at offset ${start}`,
      );
    }
    sections.push({ id, start, payload, end: r.pos });
  }
  const find = (id: number) => sections.find((s) => s.id === id);
  const reader = (s: Section) => new WasmReader(bytes, s.payload, s.end);
  const info: ModuleInfo = {
    bytes,
    sections,
    importedFuncs: 0,
    definedFuncs: 0,
    importedGlobals: 0,
    definedGlobals: 0,
    memories: [],
    tables: [],
    exportNames: [],
    types: [],
    funcImports: [],
    find,
  };

  const imports = find(SECTION_IMPORT);
  if (imports) {
    const ir = reader(imports);
    const count = ir.u32();
    for (let i = 0; i < count; i++) {
      const from = ir.name();
      const name = ir.name();
      const kind = ir.u8();
      const as = ` (imported as "${from}"."${name}")`;
      switch (kind) {
        case EXTERNAL_FUNC:
          info.importedFuncs++;
          info.funcImports.push({ module: from, name, type: ir.u32() });
          break;
        case EXTERNAL_TABLE:
          info.tables.push(readTable(ir, info.tables.length, as));
          break;
        case 2:
          info.memories.push(
            readLimits(
              ir,
              info.memories.length,
              `memory ${info.memories.length}${as}`,
              true,
            ),
          );
          break;
        case EXTERNAL_GLOBAL:
          info.importedGlobals++;
          ir.skipValType();
          ir.u8();
          break;
        case 4: // tag: attribute, typeidx
          ir.u8();
          ir.u32();
          break;
        default:
          throw new UnsupportedModule(`unknown import kind ${kind}`);
      }
    }
  }
  const tables = find(SECTION_TABLE);
  if (tables) {
    const tr = reader(tables);
    const count = tr.u32();
    for (let i = 0; i < count; i++) {
      if (tr.peek() === 0x40) {
        throw new UnsupportedModule(
          `table ${info.tables.length} has an initializer expression ` +
            "(function references), which the meter does not support",
        );
      }
      info.tables.push(readTable(tr, info.tables.length, ""));
    }
  }
  const memories = find(SECTION_MEMORY);
  if (memories) {
    const mr = reader(memories);
    const count = mr.u32();
    for (let i = 0; i < count; i++) {
      const index = info.memories.length;
      info.memories.push(readLimits(mr, index, `memory ${index}`, false));
    }
  }
  const functions = find(SECTION_FUNCTION);
  if (functions) info.definedFuncs = reader(functions).u32();
  const globals = find(SECTION_GLOBAL);
  if (globals) info.definedGlobals = reader(globals).u32();
  const start = find(SECTION_START);
  if (start) info.startFunc = reader(start).u32();
  const exports = find(SECTION_EXPORT);
  if (exports) {
    const er = reader(exports);
    const count = er.u32();
    for (let i = 0; i < count; i++) {
      info.exportNames.push(er.name());
      er.u8();
      er.u32();
    }
  }
  const types = find(SECTION_TYPE);
  if (types) {
    const tr = reader(types);
    const count = tr.u32();
    for (let i = 0; i < count; i++) {
      const at = tr.pos;
      const form = tr.u8();
      if (form !== 0x60) {
        // GC types (rec groups, structs, arrays): indexes would not be
        // one per entry, so nothing can be appended safely.
        throw new UnsupportedModule(
          `type ${i} has form 0x${form.toString(16)} (GC types), ` +
            "which the meter does not support",
        );
      }
      for (let vecs = 0; vecs < 2; vecs++) { // params, results
        const n = tr.u32();
        for (let j = 0; j < n; j++) tr.skipValType();
      }
      info.types.push(bytes.subarray(at, tr.pos));
    }
  }
  return info;
}

/** Reads limits (flags, min, max) of memory or table `index`. */
function readLimits(
  r: WasmReader,
  index: number,
  label: string,
  imported: boolean,
): LimitsDef {
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
  return { index, label, flags, min, max, start, end: r.pos, imported };
}

function readTable(r: WasmReader, index: number, as: string): TableDef {
  const refType = r.peek();
  r.skipValType();
  return {
    ...readLimits(r, index, `table ${index}${as}`, as !== ""),
    refType,
  };
}
