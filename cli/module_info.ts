/** What `jobico files show` tells of a WebAssembly module. */
export interface ModuleInfo {
  size: number;
  /** The SHA-256 of the bytes, lowercase hex. */
  sha256: string;
  /** What the module needs from the host, in module order. */
  imports: WebAssembly.ModuleImportDescriptor[];
  /** What the module offers, in module order. */
  exports: WebAssembly.ModuleExportDescriptor[];
}

/** Compiles `bytes` (nothing runs) to read the module's imports and exports. */
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

/** The SHA-256 of bytes, as lowercase hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new Uint8Array(bytes));
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
