import assert from "node:assert/strict";
import { jsonLogger, PgKv } from "@jobico/goico";
import { pgTestDatabase, pgTestUrl } from "@jobico/goico/testing";
import { openStore } from "./open_store.ts";

const PG = await pgTestUrl();
const logger = jsonLogger({ level: "error" });

Deno.test("openStore: the Deno KV of the data directory when no store is named", async () => {
  const data = await Deno.makeTempDir();
  try {
    const store = await openStore({ data }, logger);
    assert.ok(!(store.kv instanceof PgKv));
    await store.kv.set(["a"], 1);
    await store.close();
    assert.ok((await Deno.stat(`${data}/kv.sqlite3`)).isFile);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test({
  name:
    "openStore: JOBICO_STORE's PostgreSQL, migrated, and nothing in the data directory",
  ignore: !PG,
  fn: async () => {
    const data = await Deno.makeTempDir();
    const url = await pgTestDatabase();
    try {
      const store = await openStore({ data, store: url }, logger);
      assert.ok(store.kv instanceof PgKv);
      await store.kv.set(["a"], 1);
      await store.close();
      // Another node sees it.
      const again = await openStore({ data, store: url }, logger);
      assert.equal((await again.kv.get(["a"])).value, 1);
      await again.close();
      assert.deepEqual([...Deno.readDirSync(data)], []);
      assert.equal(store.describe, url);
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "openStore: a PostgreSQL that is not there fails with the error, not a hang",
  ignore: !PG,
  fn: async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    await assert.rejects(
      () =>
        openStore({
          data: ":memory:",
          store: `postgres://nobody:secret@127.0.0.1:${port}/x`,
        }, logger),
      /ECONNREFUSED|connect/i,
    );
  },
});
