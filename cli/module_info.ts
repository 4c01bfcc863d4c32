import { sha256Hex } from "@jobico/goico";

export { sha256Hex };

/** What `jobico files show` and the dashboard tell of a WebAssembly module. */
export interface ModuleInfo {
  size: number;
  /** The SHA-256 of the bytes, lowercase hex. */
  sha256: string;
  /** What the module needs from the host, in module order. */
  imports: WebAssembly.ModuleImportDescriptor[];
  /** What the module offers, in module order. */
  exports: WebAssembly.ModuleExportDescriptor[];
}

/**
 * Compiles `bytes` (asynchronously, nothing runs) to read the module's
 * imports and exports, and hashes them.
 */
export async function moduleInfo(bytes: Uint8Array): Promise<ModuleInfo> {
  const copy = new Uint8Array(bytes);
  const module = await WebAssembly.compile(copy);
  return {
    size: copy.byteLength,
    sha256: await sha256Hex(copy),
    imports: WebAssembly.Module.imports(module),
    exports: WebAssembly.Module.exports(module),
  };
}
