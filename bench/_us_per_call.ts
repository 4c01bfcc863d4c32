/** µs per call: the best of `repeats` runs of `calls`, after one warm-up run. */
export async function usPerCall(
  calls: number,
  repeats: number,
  run: (n: number) => Promise<void>,
): Promise<number> {
  await run(Math.min(calls, 2000));
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run(calls);
    best = Math.min(best, ((performance.now() - t0) * 1000) / calls);
  }
  return Math.round(best * 100) / 100;
}
