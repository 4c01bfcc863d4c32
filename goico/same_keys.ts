/**
 * Values made once per name and handed out again, the same object each
 * time, for at most `max` names (past them it starts over). A `WriteBatch`
 * knows a key by its array (`keyId`'s WeakMap) and merges the sums and
 * shared sets of one key: a key built anew for every write is named and
 * measured again each time.
 */
export class SameKeys<V = Deno.KvKey> {
  readonly #made = new Map<string, V>();

  constructor(
    private readonly make: (name: string) => V,
    private readonly max = 10_000,
  ) {}

  /** The value for `name`, made on first use. */
  get(name: string): V {
    let v = this.#made.get(name);
    if (v === undefined) {
      if (this.#made.size >= this.max) this.#made.clear();
      v = this.make(name);
      this.#made.set(name, v);
    }
    return v;
  }
}
