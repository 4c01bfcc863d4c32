/**
 * Deletes every KV entry under some prefixes (and at each prefix itself,
 * which `kv.list` leaves out), in atomic writes of up to
 * 500 deletions. Each write stands alone: a crash midway leaves the rest,
 * and calling again finishes the job.
 */
export async function deletePrefixes(
  kv: Deno.Kv,
  prefixes: Deno.KvKey[],
  keep: (key: Deno.KvKey) => boolean = () => false,
): Promise<number> {
  let deleted = 0;
  let batch: Deno.KvKey[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const op = kv.atomic();
    for (const k of batch) op.delete(k);
    if (!(await op.commit()).ok) throw new Error("Deleting entries failed");
    deleted += batch.length;
    batch = [];
  };
  for (const prefix of prefixes) {
    if ((await kv.get(prefix)).versionstamp !== null && !keep(prefix)) {
      batch.push(prefix);
    }
    for await (const e of kv.list({ prefix }, { batchSize: 500 })) {
      if (keep(e.key)) continue;
      batch.push(e.key);
      if (batch.length >= 500) await flush();
    }
  }
  await flush();
  return deleted;
}
