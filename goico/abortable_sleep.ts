/**
 * Waits `ms`, or less when `signal` aborts, and not at all when it already
 * has: a loop that checks its signal only before its work must not sleep
 * out a whole period when the abort came while it worked.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
