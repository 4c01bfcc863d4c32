/**
 * Turns of this process on named keys: a holder of a key's turn runs
 * before the next one asks for it. The listener plans and writes a flow
 * key's items one request at a time (flow_control.ts): requests of one key
 * read the state the one before wrote instead of all reading the same and
 * all but one being refused. Keys nobody waits for are forgotten.
 */
export class KeyedLocks {
  readonly #tails = new Map<string, Promise<void>>();

  /** Keys waited for or held now. */
  get size(): number {
    return this.#tails.size;
  }

  /**
   * Waits for the turn on every key (taken in sorted order, so two holders
   * of overlapping keys never wait for each other); resolves to the release.
   */
  async acquire(names: string[]): Promise<() => void> {
    const sorted = [...new Set(names)].sort();
    const releases: (() => void)[] = [];
    for (const name of sorted) releases.push(await this.#one(name));
    return () => {
      for (const r of releases) r();
    };
  }

  async #one(name: string): Promise<() => void> {
    const before = this.#tails.get(name);
    let release!: () => void;
    const mine = new Promise<void>((r) => release = r);
    this.#tails.set(name, mine);
    if (before) await before;
    return () => {
      if (this.#tails.get(name) === mine) this.#tails.delete(name);
      release();
    };
  }
}
