/**
 * For goico's tests: runs `fn` with a new in-memory Deno KV, closed after
 * it, whatever it does.
 */
export async function withKv(
  fn: (kv: Deno.Kv) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}
