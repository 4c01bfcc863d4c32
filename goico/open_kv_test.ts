import assert from "node:assert/strict";
import { openKv, openKvAt } from "./open_kv.ts";

Deno.test("openKv: a data directory is created and holds kv.sqlite3", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const dir = `${tmp}/nested/data/`;
    const kv = await openKv(dir);
    try {
      await kv.set(["k"], "v");
    } finally {
      kv.close();
    }
    assert.ok((await Deno.stat(`${tmp}/nested/data`)).isDirectory);
    assert.ok((await Deno.stat(`${tmp}/nested/data/kv.sqlite3`)).isFile);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("openKv: data survives close and reopen", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const first = await openKv(tmp);
    try {
      const res = await first.atomic()
        .set(["job", "a"], { n: 1 })
        .sum(["count"], 5n)
        .commit();
      assert.ok(res.ok);
    } finally {
      first.close();
    }
    // An existing directory is fine too.
    const second = await openKv(tmp);
    try {
      assert.deepEqual((await second.get(["job", "a"])).value, { n: 1 });
      const count = (await second.get<Deno.KvU64>(["count"])).value;
      assert.equal(count?.value, 5n);
    } finally {
      second.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("openKv: :memory: works and keeps nothing", async () => {
  const kv = await openKv(":memory:");
  try {
    await kv.set(["k"], "v");
    assert.equal((await kv.get(["k"])).value, "v");
  } finally {
    kv.close();
  }
  const again = await openKv(":memory:");
  try {
    assert.equal((await again.get(["k"])).value, null);
  } finally {
    again.close();
  }
  // No ":memory:" directory was created in the working directory.
  await assert.rejects(() => Deno.stat(":memory:"), Deno.errors.NotFound);
});

Deno.test("openKvAt: a SQLite file path is opened as is, its directory made", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const file = `${tmp}/elsewhere/store.sqlite3`;
    const kv = await openKvAt(file);
    try {
      await kv.set(["k"], "v");
    } finally {
      kv.close();
    }
    const again = await openKvAt(file);
    try {
      assert.equal((await again.get(["k"])).value, "v");
    } finally {
      again.close();
    }
    assert.ok((await Deno.stat(file)).isFile);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
