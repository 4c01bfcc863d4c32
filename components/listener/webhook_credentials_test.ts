import assert from "node:assert/strict";
import { GroupCommit, TooManyError } from "@jobico/goico";
import type { Step } from "../http/pipeline.ts";
import type { ListenerEnv } from "./listener_env.ts";
import { RecentDuplicates } from "./recent_duplicates.ts";
import { keys } from "../model/keys.ts";
import { enqueueEvents } from "./enqueue_events.ts";
import { eventBytes } from "./event_bytes.ts";
import { eventItems } from "./event_items.ts";
import { jsonBody } from "./json_body.ts";
import { webhookCredentials } from "./webhook_credentials.ts";
import { signWebhook } from "./webhook_signature.ts";
import {
  postTo,
  seen,
  stepApp,
  type StepWorld,
  stepWorld,
} from "./_test_steps.ts";

const MAX = 1000;
const now = () => Math.floor(Date.now() / 1000);

/** A signed request's steps: `credentials`, the body's, `before` the write, the write. */
function signedApp(
  w: StepWorld,
  credentials: Step<ListenerEnv>,
  ...before: Step<ListenerEnv>[]
) {
  return stepApp(
    { route: w.route },
    credentials,
    eventBytes({ maxBytes: MAX }),
    jsonBody(),
    eventItems(),
    ...before,
    enqueueEvents({
      kv: w.kv,
      queue: w.queue,
      commits: new GroupCommit(w.kv),
    }),
  );
}

/** A body of one item named `name`, and its signature made now. */
async function signed(secret: string, name: string) {
  const body = JSON.stringify({ data: [{ name }] });
  return {
    body,
    headers: { "jobico-signature": await signWebhook(secret, body, now()) },
  };
}

Deno.test("webhookCredentials: a token event needs the tenant's token (or the admin's)", async () => {
  const w = await stepWorld();
  try {
    const app = stepApp(
      { route: w.route },
      webhookCredentials({ reads: w.kv, auth: w.auth, maxBodyBytes: MAX }),
      seen,
    );
    const statusWith = async (headers: Record<string, string>) => {
      const res = await postTo(app, "{}", headers);
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await statusWith({}), 401);
    assert.equal(await statusWith({ authorization: "Bearer jbc_guess" }), 401);
    assert.equal(await statusWith({ authorization: "Basic YTpi" }), 401);
    assert.equal(await statusWith({ authorization: "Bearer a b" }), 401);
    assert.equal(
      await statusWith({ authorization: `Bearer ${w.otherToken}` }),
      403,
    );
    // A signature does not stand in for a token on a token event.
    const sig = await signWebhook(
      (await w.tenants.webhookSecrets("demo")).secret,
      "{}",
      now(),
    );
    assert.equal(await statusWith({ "jobico-signature": sig }), 401);
    const res = await postTo(app, "{}", { authorization: `Bearer ${w.token}` });
    assert.equal(res.status, 200);
    const body = await res.json();
    // Nothing was read, and a token leaves no replay record to write.
    assert.equal(body.bodyBytes, undefined);
    assert.equal(body.replay, undefined);
  } finally {
    await w.close();
  }
});

Deno.test("webhookCredentials: a signed request reads the body once, within the limit, and sets its replay record", async () => {
  const w = await stepWorld({ auth: "hmac" });
  try {
    const { secret } = await w.tenants.webhookSecrets("demo");
    // eventBytes after it keeps the bytes the signature was checked on.
    const app = stepApp(
      { route: w.route },
      webhookCredentials({ reads: w.kv, auth: w.auth, maxBodyBytes: MAX }),
      eventBytes({ maxBytes: MAX }),
      seen,
    );
    const body = '{"data":[{"name":"Signed"}]}';
    const res = await postTo(app, body, {
      "jobico-signature": await signWebhook(secret, body, now()),
    });
    assert.equal(res.status, 200);
    const got = await res.json();
    assert.equal(got.bodyBytes, body.length);
    assert.equal(got.replay.key[0], keys.signatureSeen("demo", "x")[0]);
    assert.equal(got.replay.expireIn, (300 * 2 + 60) * 1000);

    // Attacks: a tampered body, an old timestamp, another tenant's secret.
    const refused = async (b: string, sig: string) => {
      const r = await postTo(app, b, { "jobico-signature": sig });
      assert.equal(r.status, 401, await r.clone().text());
      return (await r.json()).detail;
    };
    const sig = await signWebhook(secret, body, now());
    assert.match(
      await refused(body.replace("Signed", "Forged"), sig),
      /needs a signature/,
    );
    assert.match(
      await refused(body, await signWebhook(secret, body, now() - 600)),
      /outside the 300-second window/,
    );
    const other = await w.tenants.webhookSecrets("other");
    await refused(body, await signWebhook(other.secret, body, now()));
    // A signed body over the limit is refused before the signature is checked.
    const big = JSON.stringify({ data: ["x".repeat(MAX)] });
    const r = await postTo(app, big, {
      "jobico-signature": await signWebhook(secret, big, now()),
    });
    assert.equal(r.status, 413);
    assert.match(
      (await r.json()).detail,
      /^Event body is larger than the limit of 1000 bytes$/,
    );
  } finally {
    await w.close();
  }
});

Deno.test("webhookCredentials: a signature is accepted once, also when the same request is sent many times at once", async () => {
  const w = await stepWorld({ auth: "hmac" });
  try {
    const { secret } = await w.tenants.webhookSecrets("demo");
    const app = signedApp(
      w,
      webhookCredentials({ reads: w.kv, auth: w.auth, maxBodyBytes: MAX }),
    );
    const { body, headers } = await signed(secret, "Once");
    const answers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const res = await postTo(app, body, headers);
        return [res.status, (await res.json()).detail];
      }),
    );
    assert.equal(answers.filter(([s]) => s === 200).length, 1, String(answers));
    for (const [status, detail] of answers.filter(([s]) => s !== 200)) {
      assert.equal(status, 401);
      assert.match(detail, /was already accepted/);
    }
    // Sent again later: seen before, refused before anything is read.
    const again = await postTo(app, body, headers);
    assert.equal(again.status, 401);
    await again.body?.cancel();
    assert.equal((await w.queue.stats("demo/greetings")).depth, 1);
  } finally {
    await w.close();
  }
});

Deno.test("webhookCredentials: without a replay lately nothing is read first; a replay is a 401 whatever the steps after it say, and its tenant reads first from then on", async () => {
  const w = await stepWorld({ auth: "hmac" });
  try {
    const { secret } = await w.tenants.webhookSecrets("demo");
    let reads = 0;
    const counted: Pick<Deno.Kv, "get"> = {
      get: <T>(key: Deno.KvKey) => {
        reads++;
        return w.kv.get<T>(key);
      },
    };
    let full = false;
    let ran = 0;
    // A full queue, once the first request is in.
    const queueFull: Step<ListenerEnv> = function queueFull(_c, next) {
      ran++;
      if (full) throw new TooManyError("The queue is full", 10);
      return next();
    };
    const duplicates = new RecentDuplicates();
    const app = signedApp(
      w,
      webhookCredentials({
        reads: counted,
        auth: w.auth,
        maxBodyBytes: MAX,
        duplicates,
      }),
      queueFull,
    );
    const { body, headers } = await signed(secret, "Once");
    const ok = await postTo(app, body, headers);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    assert.deepEqual([ran, reads], [1, 0]);
    // Replayed while the queue is full: a 401, not a 429.
    full = true;
    const replay = await postTo(app, body, headers);
    assert.equal(replay.status, 401);
    assert.match((await replay.json()).detail, /was already accepted/);
    assert.deepEqual([ran, reads], [2, 1]);
    // The tenant now reads first: a replay is refused before the body.
    assert.equal(duplicates.readFirst("demo"), true);
    const again = await postTo(app, body, headers);
    assert.equal(again.status, 401);
    await again.body?.cancel();
    assert.deepEqual([ran, reads], [2, 2]);
    // A new signature refused by a later step keeps that step's answer.
    const other = await signed(secret, "Twice");
    const refused = await postTo(app, other.body, other.headers);
    assert.equal(refused.status, 429);
    await refused.body?.cancel();
    assert.equal((await w.queue.stats("demo/greetings")).depth, 1);
  } finally {
    await w.close();
  }
});

Deno.test("webhookCredentials: a public event needs no credentials", async () => {
  const w = await stepWorld({ auth: "public" });
  try {
    const app = stepApp(
      { route: w.route },
      webhookCredentials({ reads: w.kv, auth: w.auth, maxBodyBytes: MAX }),
      seen,
    );
    const res = await postTo(app, "{}");
    assert.equal(res.status, 200);
    assert.equal((await res.json()).replay, undefined);
  } finally {
    await w.close();
  }
});
