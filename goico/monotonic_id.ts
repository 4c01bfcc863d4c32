/**
 * Sortable, unique ids: 9 base-36 chars of milliseconds, 4 of a per-process
 * counter and 6 random ones. Ids made by one process sort in the order they
 * were made; ids of different processes sort by their millisecond.
 */
export function monotonicIdFactory(now: () => number = Date.now): () => string {
  let lastMs = 0;
  let counter = 0;
  // Random values are drawn 256 at a time: one call into the runtime for
  // many ids instead of one each.
  const pool = new Uint32Array(256);
  let next = pool.length;
  return () => {
    let ms = now();
    if (ms <= lastMs) {
      ms = lastMs;
      counter++;
      if (counter >= 36 ** 4) {
        ms = ++lastMs;
        counter = 0;
      }
    } else {
      counter = 0;
    }
    lastMs = ms;
    if (next === pool.length) {
      crypto.getRandomValues(pool);
      next = 0;
    }
    const rnd = pool[next++] % 36 ** 6;
    return ms.toString(36).padStart(9, "0") +
      counter.toString(36).padStart(4, "0") +
      rnd.toString(36).padStart(6, "0");
  };
}

/** The process-wide id generator. */
export const monotonicId: () => string = monotonicIdFactory();
