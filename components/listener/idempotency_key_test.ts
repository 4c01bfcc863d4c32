import assert from "node:assert/strict";
import {
  GroupCommit,
  jsonRecords,
  ReadBatcher,
  ValidationError,
} from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import { keys } from "../model/keys.ts";
import {
  type Accepted,
  enqueueEvents,
  WriteRefused,
} from "./enqueue_events.ts";
import { eventBytes } from "./event_bytes.ts";
import { eventItems } from "./event_items.ts";
import { IDEMPOTENCY_MS, idempotencyKey } from "./idempotency_key.ts";
import { jsonBody } from "./json_body.ts";
import { RecentDuplicates } from "./recent_duplicates.ts";
import type { ListenerEnv } from "./listener_env.ts";
import { postTo, seen, stepApp, stepWorld } from "./_test_steps.ts";

Deno.test("idempotencyKey: no key passes; a new key sets its record for the write", async () => {
  const w = await stepWorld();
  try {
    const app = stepApp({ route: w.route }, idempotencyKey(w.kv), seen);
    const none = await (await postTo(app, "{}")).json();
    assert.equal(none.idempotency, undefined);
    const res = await postTo(app, "{}", { "idempotency-key": "order-17" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("idempotent-replayed"), null);
    assert.deepEqual((await res.json()).idempotency, {
      key: [...keys.idempotency("demo", "greet", "order-17")],
      expireIn: IDEMPOTENCY_MS,
    });
  } finally {
    await w.close();
  }
});

Deno.test("idempotencyKey refuses keys that are not 1 to 255 visible ASCII characters", async () => {
  const w = await stepWorld();
  try {
    const app = stepApp({ route: w.route }, idempotencyKey(w.kv), seen);
    const bad = ["", "k".repeat(256), "a b", "a\tb", "\x7f", "é", "ключ"];
    for (const key of bad) {
      // Sent as the UTF-8 bytes a client puts on the wire.
      const bytes = new TextEncoder().encode(key);
      const res = await postTo(app, "{}", {
        "idempotency-key": String.fromCharCode(...bytes),
      });
      assert.equal(res.status, 400, JSON.stringify(key));
      assert.match((await res.json()).detail, /^Invalid Idempotency-Key/);
    }
    const longest = await postTo(app, "{}", {
      "idempotency-key": "~".repeat(255),
    });
    assert.equal(longest.status, 200);
    await longest.body?.cancel();
  } finally {
    await w.close();
  }
});

Deno.test("idempotencyKey answers a key seen before with its first answer: read first after a duplicate, nothing after it runs", async () => {
  const w = await stepWorld();
  try {
    const first: Accepted = { accepted: 1, ids: ["0000000000000000001"] };
    // As JSON bytes (as written now) and as the value itself (as versions
    // before 2026-12-05 wrote it).
    await w.kv.set(
      keys.idempotency("demo", "greet", "k1"),
      jsonRecords.encode(first),
    );
    await w.kv.set(keys.idempotency("demo", "greet", "k0"), first);
    let ran = 0;
    const after: Step<ListenerEnv> = function after() {
      ran++;
      throw new Error("must not run");
    };
    // The tenant sent a duplicate lately: its keys are read first.
    const lately = new RecentDuplicates();
    lately.found("demo");
    const app = stepApp(
      { route: w.route },
      idempotencyKey(w.kv, lately),
      after,
    );
    for (const k of ["k1", "k0"]) {
      const res = await postTo(app, "not even JSON", { "idempotency-key": k });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("idempotent-replayed"), "true");
      assert.deepEqual(await res.json(), first);
    }
    // The key is per tenant and event: another event's "k1" is new.
    const other = stepApp(
      { route: { ...w.route, event: { ...w.route.event, id: "greeted" } } },
      idempotencyKey(w.kv),
      seen,
    );
    const fresh = await postTo(other, "{}", { "idempotency-key": "k1" });
    assert.equal(fresh.headers.get("idempotent-replayed"), null);
    await fresh.body?.cancel();
    assert.equal(ran, 0);
  } finally {
    await w.close();
  }
});

Deno.test("idempotencyKey without a duplicate lately reads nothing first; a duplicate gets its first answer whatever the steps after it say, and its tenant reads first from then on", async () => {
  const w = await stepWorld();
  try {
    const first: Accepted = { accepted: 1, ids: ["0000000000000000003"] };
    await w.kv.set(
      keys.idempotency("demo", "greet", "k4"),
      jsonRecords.encode(first),
    );
    let reads = 0;
    const counted: Pick<Deno.Kv, "get"> = {
      get: <T>(key: Deno.KvKey) => {
        reads++;
        return w.kv.get<T>(key);
      },
    };
    let ran = 0;
    // As a body that is not JSON, a full queue or a store that fails would.
    const refuses: Step<ListenerEnv> = function refuses() {
      ran++;
      throw new ValidationError("Event body is not JSON");
    };
    const duplicates = new RecentDuplicates();
    const app = stepApp(
      { route: w.route },
      idempotencyKey(counted, duplicates),
      refuses,
    );
    // A new key: no read before the steps after it; their refusal stands,
    // after one read that finds no record.
    const fresh = await postTo(app, "x", { "idempotency-key": "k5" });
    assert.equal(fresh.status, 400);
    assert.match((await fresh.json()).detail, /not JSON/);
    assert.deepEqual([ran, reads], [1, 1]);
    assert.equal(duplicates.readFirst("demo"), false);
    // A key seen before: the refusal gives way to the first answer.
    const dup = await postTo(app, "x", { "idempotency-key": "k4" });
    assert.equal(dup.status, 200);
    assert.equal(dup.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await dup.json(), first);
    assert.deepEqual([ran, reads], [2, 2]);
    // From now on the tenant's keys are read first: nothing after runs.
    assert.equal(duplicates.readFirst("demo"), true);
    const again = await postTo(app, "x", { "idempotency-key": "k4" });
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), first);
    assert.deepEqual([ran, reads], [2, 3]);
    // Another tenant's requests are not read first.
    assert.equal(duplicates.readFirst("other"), false);
  } finally {
    await w.close();
  }
});

Deno.test("idempotencyKey: when a concurrent duplicate's write wins, the loser answers the winner's answer", async () => {
  const w = await stepWorld();
  try {
    const winner: Accepted = { accepted: 1, ids: ["0000000000000000002"] };
    // The write after the lookup finds the record written meanwhile.
    const racedWrite: Step<ListenerEnv> = async function racedWrite(c) {
      await w.kv.set(c.get("idempotency")!.key, winner);
      throw new WriteRefused();
    };
    const app = stepApp({ route: w.route }, idempotencyKey(w.kv), racedWrite);
    const res = await postTo(app, "{}", { "idempotency-key": "k2" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await res.json(), winner);
    // Refused for another reason (no record): the refusal stands, a 500.
    const refused: Step<ListenerEnv> = function refused() {
      throw new WriteRefused();
    };
    const lone = stepApp({ route: w.route }, idempotencyKey(w.kv), refused);
    const failed = await postTo(lone, "{}", { "idempotency-key": "k3" });
    assert.equal(failed.status, 500);
    await failed.body?.cancel();
  } finally {
    await w.close();
  }
});

for (const reader of ["the KV", "a ReadBatcher"]) {
  Deno.test(`idempotencyKey: many duplicates at once queue one item and all get its answer (reads through ${reader})`, async () => {
    const w = await stepWorld();
    try {
      // No duplicate lately: no lookup before the writes; the nine writes
      // refused read the winner's answer (through a ReadBatcher, as the
      // listener reads, in shared reads).
      const reads = reader === "the KV" ? w.kv : new ReadBatcher(w.kv);
      const app = stepApp(
        { route: w.route },
        idempotencyKey(reads),
        eventBytes({ maxBytes: 1000 }),
        jsonBody(),
        eventItems(),
        enqueueEvents({
          kv: w.kv,
          queue: w.queue,
          commits: new GroupCommit(w.kv),
        }),
      );
      const answers = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          // Each with another body, as a retrying client's may be.
          const res = await postTo(app, { data: [{ name: `try ${i}` }] }, {
            "idempotency-key": "order-18",
          });
          assert.equal(res.status, 200);
          return await res.json();
        }),
      );
      assert.ok(answers.every((a) => a.ids[0] === answers[0].ids[0]));
      assert.equal((await w.queue.stats("demo/greetings")).depth, 1);
      if (reads instanceof ReadBatcher) {
        assert.equal(reads.stats.keys, 9);
        assert.ok(reads.stats.reads <= 9, JSON.stringify(reads.stats));
      }
    } finally {
      await w.close();
    }
  });
}
