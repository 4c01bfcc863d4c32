/**
 * Compiles each WebAssembly module once per content hash. Compiling takes
 * milliseconds, instantiating a compiled module microseconds.
 */
export class ModuleCache {
  readonly #modules = new Map<string, Promise<WebAssembly.Module>>();
  constructor(private readonly max = 128) {}

  /** The compiled module for `sha256`; `load` fetches the bytes on a miss. */
  get(
    sha256: string,
    load: () => Promise<Uint8Array>,
  ): Promise<WebAssembly.Module> {
    let mod = this.#modules.get(sha256);
    if (mod) {
      // Refresh its place for least-recently-used eviction.
      this.#modules.delete(sha256);
      this.#modules.set(sha256, mod);
      return mod;
    }
    mod = load().then((bytes) =>
      WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>)
    );
    const loading = mod;
    // Forget the failure, unless it was evicted and loaded again meanwhile.
    loading.catch(() => {
      if (this.#modules.get(sha256) === loading) this.#modules.delete(sha256);
    });
    this.#modules.set(sha256, loading);
    while (this.#modules.size > this.max) {
      this.#modules.delete(this.#modules.keys().next().value!);
    }
    return mod;
  }

  get size(): number {
    return this.#modules.size;
  }
}
