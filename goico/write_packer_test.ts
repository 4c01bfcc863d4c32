import assert from "node:assert/strict";
import { KV_LIMITS } from "./kv_limits.ts";
import { KvLimitError, type WriteBatch } from "./write_batch.ts";
import { WritePacker } from "./write_packer.ts";
import { withKv } from "./_test_kv.ts";

Deno.test("WritePacker: things go in order, as many an atomic as their measures fit", () =>
  withKv(async (kv) => {
    const commits: number[][] = [];
    const packer = new WritePacker<number>(kv, async (batch, things) => {
      assert.ok((await batch.commit()).ok);
      commits.push(things);
    }, { ...KV_LIMITS, mutations: 7 });
    for (let i = 0; i < 10; i++) {
      // Two mutations each, and a counter they share (merged: one).
      await packer.add(
        i,
        (part) => part.set(["item", i], i).delete(["old", i]).sum(["n"], 1n),
      );
    }
    assert.equal(packer.pending, 2);
    await packer.flush();
    assert.equal(packer.pending, 0);
    // Each part alone takes 3 mutations: 2 of them fit beside each other in 7.
    assert.deepEqual(commits, [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]);
    assert.equal((await kv.get<Deno.KvU64>(["n"])).value?.value, 10n);
    for (let i = 0; i < 10; i++) {
      assert.equal((await kv.get(["item", i])).value, i);
    }
  }));

Deno.test("WritePacker: a batch is split where the bytes would pass one atomic's", () =>
  withKv(async (kv) => {
    const sizes: number[] = [];
    const packer = new WritePacker<number>(kv, async (batch, things) => {
      assert.ok((await batch.commit()).ok);
      sizes.push(things.length);
    });
    for (let i = 0; i < 20; i++) {
      await packer.add(
        i,
        (part) => part.set(["big", i], new Uint8Array(60_000)),
      );
    }
    await packer.flush();
    // 13 values of 60,000 bytes fit 819,200 bytes, 14 do not.
    assert.deepEqual(sizes, [13, 7]);
  }));

Deno.test("WritePacker: a thing no atomic can take is refused, naming the limit; the batch so far stays", () =>
  withKv(async (kv) => {
    const committed: string[][] = [];
    const packer = new WritePacker<string>(kv, async (batch, things) => {
      assert.ok((await batch.commit()).ok);
      committed.push(things);
    });
    await packer.add("small", (part) => part.set(["s"], 1));
    await assert.rejects(
      packer.add(
        "huge",
        (part: WriteBatch) => part.set(["h"], new Uint8Array(70_000)),
      ),
      (err) => err instanceof KvLimitError && err.limit === "valueBytes",
    );
    await packer.flush();
    assert.deepEqual(committed, [["small"]]);
    assert.equal((await kv.get(["h"])).versionstamp, null);
  }));

Deno.test("WritePacker: flush with nothing added commits nothing", () =>
  withKv(async (kv) => {
    let calls = 0;
    const packer = new WritePacker<number>(kv, () => {
      calls++;
      return Promise.resolve();
    });
    await packer.flush();
    assert.equal(calls, 0);
  }));
