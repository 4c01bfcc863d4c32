/** What the dashboard shows of a WebAssembly module, computed client-side. */
export interface WasmSummary {
  /** `module.name` and the kind of each import, in module order. */
  imports: WebAssembly.ModuleImportDescriptor[];
  exports: WebAssembly.ModuleExportDescriptor[];
  /** The SHA-256 of the bytes, hex. */
  sha256: string;
}

/**
 * Compiles the module (asynchronously, so a large one does not freeze the
 * screen) to read its imports and exports, and hashes its bytes.
 */
export async function summarizeWasm(bytes: Uint8Array): Promise<WasmSummary> {
  const copy = new Uint8Array(bytes);
  const module = await WebAssembly.compile(copy);
  return {
    imports: WebAssembly.Module.imports(module),
    exports: WebAssembly.Module.exports(module),
    sha256: await sha256Hex(copy),
  };
}

/** The SHA-256 of bytes, as lowercase hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new Uint8Array(bytes));
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
