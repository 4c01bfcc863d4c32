/**
 * Tenants, tokens and webhook authentication over real HTTP: what a tenant
 * token may and may not do, rotation, deletion, and the three ways an event
 * may be accepted (token, HMAC signature, public).
 */
import assert from "node:assert/strict";
import { signWebhook } from "../components/listener/webhook_signature.ts";
import {
  recordExecutions,
  SseReader,
} from "../components/executions/_test_executions.ts";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { type Harness, startHarness, storeTest } from "./_harness.ts";
import { TenantStore } from "../components/tenants/tenant_store.ts";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function createTenant(h: Harness, id: string): Promise<string> {
  const res = await h.api("/api/v1/tenants", {
    method: "POST",
    body: JSON.stringify({ id }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const body = await res.json();
  assert.equal(body.id, id);
  assert.match(body.token, /^jbt_[A-Za-z0-9_-]{43}$/);
  return body.token;
}

async function status(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.body?.cancel();
  return r.status;
}

/** The greet package for `tenant`, with `auth` on the greet event. */
async function greetYaml(tenant: string, auth?: string): Promise<string> {
  let yaml = await Deno.readTextFile(
    new URL("../examples/greet/job.yaml", import.meta.url),
  );
  yaml = yaml.replace("tenant: demo", `tenant: ${tenant}`);
  if (auth) {
    yaml = yaml.replace(
      "      runtime: greet-c\n",
      `      runtime: greet-c\n      auth: ${auth}\n`,
    );
  }
  return yaml;
}

Deno.test("a tenant token reaches its own tenant only; others get 403, no token 401", async () => {
  const h = await startHarness();
  try {
    const acme = await createTenant(h, "acme");
    await createTenant(h, "globex");
    // Tokens are stored hashed: the token itself is nowhere in the KV.
    for await (const e of h.kv.list({ prefix: [] })) {
      assert.ok(
        !JSON.stringify(
          e.value ?? null,
          (_, v) => typeof v === "bigint" ? String(v) : v, // KvU64 counters
        ).includes(acme),
        "plain token stored",
      );
    }
    assert.equal(
      await status(
        h.api("/api/v1/tenants/acme/packages", { headers: bearer(acme) }),
      ),
      200,
    );
    assert.equal(
      await status(
        h.api("/api/v1/tenants/globex/packages", { headers: bearer(acme) }),
      ),
      403,
    );
    const res = await h.api("/api/v1/tenants/globex/files", {
      headers: bearer(acme),
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.match(
      (await res.json()).detail,
      /tenant "acme" cannot access tenant "globex"/,
    );
    assert.equal(
      await status(
        h.api("/api/v1/tenants/acme/packages", {
          headers: { authorization: "" },
        }),
      ),
      401,
    );
    // Only the admin creates and deletes tenants; whoami says who is who.
    assert.equal(
      await status(h.api("/api/v1/tenants", {
        method: "POST",
        headers: bearer(acme),
        body: '{"id":"evil"}',
      })),
      403,
    );
    assert.deepEqual(
      await (await h.api("/api/v1/whoami", { headers: bearer(acme) })).json(),
      { principal: "tenant", tenant: "acme" },
    );
    const list =
      await (await h.api("/api/v1/tenants", { headers: bearer(acme) })).json();
    assert.deepEqual(list.tenants.map((t: { id: string }) => t.id), ["acme"]);
    const all = await (await h.api("/api/v1/tenants")).json();
    assert.deepEqual(all.tenants.map((t: { id: string }) => t.id), [
      "acme",
      "globex",
    ]);
    // A tenant may deploy its own package, not another tenant's.
    const put = (tenant: string, token: string, name: string) =>
      h.api(`/api/v1/tenants/${tenant}/files/${name}`, {
        method: "PUT",
        headers: bearer(token),
        body: Deno.readFileSync(
          new URL(`../examples/greet/${name}`, import.meta.url),
        ),
      });
    for (
      const n of [
        "greet.wasm",
        "audit.wasm",
        "greet.schema.json",
        "result.schema.json",
      ]
    ) {
      assert.equal(await status(put("acme", acme, n)), 201);
    }
    const deploy = (yaml: string) =>
      h.api("/api/v1/packages", {
        method: "POST",
        headers: bearer(acme),
        body: yaml,
      });
    assert.equal(await status(deploy(await greetYaml("globex"))), 403);
    assert.equal(await status(deploy(await greetYaml("acme"))), 201);
    const versions =
      await (await h.api("/api/v1/tenants/acme/packages/greet/versions", {
        headers: bearer(acme),
      })).json();
    assert.equal(versions.versions[0].deployedBy, "tenant:acme");
    // Its events need its token (the default auth); another tenant's is a 403.
    const send = (headers: Record<string, string>) =>
      fetch(h.url + "/events/acme/greet", {
        method: "POST",
        headers,
        body: '{"data":[{"name":"Ada"}]}',
      });
    assert.equal(await status(send({})), 401);
    assert.equal(await status(send(bearer("jbt_wrong"))), 401);
    const globexToken = (await (await h.api("/api/v1/tenants/globex/token", {
      method: "POST",
    })).json()).token;
    assert.equal(await status(send(bearer(globexToken))), 403);
    assert.equal(await status(send(bearer(acme))), 200);
    // The executions stream refuses the other tenant too.
    assert.equal(
      await status(h.api("/api/v1/tenants/acme/executions/stream", {
        headers: bearer(globexToken),
      })),
      403,
    );
  } finally {
    await h.close();
  }
});

Deno.test("rotating a token stops the old one at once; deleting a tenant removes everything of it", async () => {
  const h = await startHarness({ leaseMs: 500 });
  try {
    await createTenant(h, "demo");
    await deployGreetOver(h.api);
    const old = await createTenant(h, "other");
    const rotated = await (await h.api("/api/v1/tenants/other/token", {
      method: "POST",
      headers: bearer(old),
    })).json();
    assert.notEqual(rotated.token, old);
    assert.equal(
      await status(h.api("/api/v1/tenants/other", { headers: bearer(old) })),
      401,
    );
    assert.equal(
      await status(
        h.api("/api/v1/tenants/other", { headers: bearer(rotated.token) }),
      ),
      200,
    );
    // demo has a package, files, queued and executed events.
    const ids = await h.send("demo", "greet", [{ name: "Ada" }, {
      name: "Bob",
    }]);
    await h.waitFor(
      "demo",
      (e) => ids.every((id) => e.some((x) => x.eventId === id)),
    );
    assert.equal(
      await status(h.api("/api/v1/tenants/demo", { method: "DELETE" })),
      204,
    );
    // The chained audits may still be running: what they record after the
    // delete goes in the sweep one lease later (500 ms here).
    const demoKeys = async () => {
      const left: string[] = [];
      for await (const e of h.kv.list({ prefix: [] })) {
        if (JSON.stringify(e.key).includes('"demo')) {
          left.push(JSON.stringify(e.key));
        }
      }
      return left;
    };
    let left = await demoKeys();
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      left = await demoKeys();
    }
    assert.deepEqual(left, []);
    const blobs = await Array.fromAsync(h.kv.list({ prefix: ["blob"] }));
    assert.equal(blobs.length, 0, "the tenant's blobs are gone");
    assert.equal(await status(h.api("/api/v1/tenants/demo")), 404);
    assert.equal(
      await status(h.api("/events/demo/greet", {
        method: "POST",
        body: '{"data":[{"name":"x"}]}',
      })),
      404,
    );
    // The other tenant is untouched.
    assert.equal(await status(h.api("/api/v1/tenants/other")), 200);
  } finally {
    await h.close();
  }
});

/** Opens a tenant's execution stream with `token`; reads until it is connected. */
async function openStream(
  h: Harness,
  tenant: string,
  token: string,
): Promise<SseReader> {
  const res = await h.api(`/api/v1/tenants/${tenant}/executions/stream`, {
    headers: bearer(token),
  });
  if (res.status !== 200) assert.fail(`${res.status}: ${await res.text()}`);
  const reader = new SseReader(res.body!.getReader());
  await reader.until(() => reader.text.includes(": connected"));
  return reader;
}

/** Records one execution of `tenant` and waits until `reader` has it. */
async function deliversOne(h: Harness, tenant: string, reader: SseReader) {
  const [e] = await recordExecutions(h.kv, h.platform.executions, tenant, 1);
  await reader.until(() => reader.ids.includes(e.id));
}

/** The stream's last event is `revoked` naming why, then it ends. */
async function endsRevoked(reader: SseReader, why: RegExp): Promise<void> {
  await reader.toEnd();
  const last = reader.events.at(-1);
  assert.equal(last?.event, "revoked", reader.text.slice(-300));
  assert.match(JSON.parse(last.data).reason, why);
}

Deno.test("a live stream ends once its token is rotated or its tenant deleted, and never sees a new tenant of the same name", async () => {
  const h = await startHarness({ components: ["ctl", "recorder"] });
  try {
    const first = await createTenant(h, "acme");
    const rotating = await openStream(h, "acme", first);
    const admin = await openStream(h, "acme", h.adminToken);
    await deliversOne(h, "acme", rotating);
    await deliversOne(h, "acme", admin);
    const rotated = await (await h.api("/api/v1/tenants/acme/token", {
      method: "POST",
      headers: bearer(first),
    })).json();
    // At once in this process: the rotation's answer came after the end.
    await endsRevoked(rotating, /no longer works/);
    const later = await recordExecutions(
      h.kv,
      h.platform.executions,
      "acme",
      1,
    );
    await deliversOne(h, "acme", admin);
    assert.ok(!rotating.ids.includes(later[0].id));

    const second = await openStream(h, "acme", rotated.token);
    assert.equal(
      await status(h.api("/api/v1/tenants/acme", { method: "DELETE" })),
      204,
    );
    await endsRevoked(second, /no longer works/);
    await endsRevoked(admin, /Tenant "acme" was deleted/);
    assert.equal(h.platform.streams.stats().open, 0);
    assert.equal(h.platform.streams.stats().ended.revoked, 3);
  } finally {
    await h.close();
  }
});

Deno.test("a stream whose token another process rotated ends within seconds", async () => {
  const h = await startHarness({
    components: ["ctl", "recorder"],
    streams: { recheckMs: 100 },
  });
  try {
    const token = await createTenant(h, "acme");
    const reader = await openStream(h, "acme", token);
    await deliversOne(h, "acme", reader);
    // Straight in the store, as another process's route does: nothing in
    // this one is told; its recheck finds the token gone.
    const other = new TenantStore(h.kv);
    await other.rotateToken("acme");
    await endsRevoked(reader, /no longer works/);
    // A stream of a token that works is left alone.
    const admin = await openStream(h, "acme", h.adminToken);
    await new Promise((r) => setTimeout(r, 500));
    await deliversOne(h, "acme", admin);
    await admin.reader.cancel();
  } finally {
    await h.close();
  }
});

Deno.test("events declared auth: hmac need a fresh signature (once), auth: public need nothing", async () => {
  const h = await startHarness();
  try {
    await createTenant(h, "shop");
    for (
      const n of [
        "greet.wasm",
        "audit.wasm",
        "greet.schema.json",
        "result.schema.json",
      ]
    ) {
      await h.upload(
        "shop",
        n,
        Deno.readFileSync(new URL(`../examples/greet/${n}`, import.meta.url)),
      );
    }
    await h.deploy(await greetYaml("shop", "hmac"));
    const { secret } =
      await (await h.api("/api/v1/tenants/shop/webhook-secret")).json();
    assert.match(secret, /^whsec_/);
    const body = '{"data":[{"name":"Signed"}]}';
    const post = (headers: Record<string, string>, b = body) =>
      fetch(h.url + "/events/shop/greet", { method: "POST", headers, body: b });
    const now = Math.floor(Date.now() / 1000);
    const sig = await signWebhook(secret, body, now);

    let res = await post({});
    assert.equal(res.status, 401);
    assert.match(
      (await res.json()).detail,
      /needs a signature: Missing "Jobico-Signature" header/,
    );
    res = await post({
      "jobico-signature": await signWebhook("whsec_wrong", body, now),
    });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    res = await post({
      "jobico-signature": await signWebhook(secret, body, now - 600),
    });
    assert.equal(res.status, 401);
    assert.match((await res.json()).detail, /outside the 300-second window/);
    res = await post(
      { "jobico-signature": sig },
      body.replace("Signed", "Tampered"),
    );
    assert.equal(res.status, 401);
    await res.body?.cancel();
    res = await post({ "jobico-signature": sig });
    assert.equal(res.status, 200, await res.clone().text());
    const [id] = (await res.json()).ids;
    // The same signed request again is a replay.
    res = await post({ "jobico-signature": sig });
    assert.equal(res.status, 401);
    assert.match((await res.json()).detail, /already accepted/);
    // The tenant's token is accepted instead of a signature.
    assert.equal(
      await status(h.api("/events/shop/greet", { method: "POST", body })),
      200,
    );
    // After a rotation the previous secret still signs (grace period).
    const rotated = await (await h.api("/api/v1/tenants/shop/webhook-secret", {
      method: "POST",
    })).json();
    assert.notEqual(rotated.secret, secret);
    assert.equal(rotated.previous.secret, secret);
    res = await post({
      "jobico-signature": await signWebhook(secret, body, now + 1),
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    // Nothing refused was queued: exactly the three accepted items ran.
    const execs = await h.waitFor(
      "shop",
      (e) => e.filter((x) => x.event === "greet").length >= 3,
    );
    assert.equal(execs.filter((x) => x.event === "greet").length, 3);
    assert.ok(execs.some((x) => x.eventId === id));

    // public: no credentials at all.
    await h.deploy(await greetYaml("shop", "public"));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await status(post({})), 200);
  } finally {
    await h.close();
  }
});

storeTest(
  "a tenant's creation time is its first upload, deploy or create; later writes keep it; a tenant made again after deletion is new",
  async (store) => {
    // Deletion ends one lease after its sweep: a short lease.
    const h = await startHarness({ store, leaseMs: 500 });
    try {
      const createdAt = async (id: string) => {
        const res = await h.api(`/api/v1/tenants/${id}`);
        assert.equal(res.status, 200, await res.clone().text());
        return Date.parse((await res.json()).createdAt);
      };
      const schema = JSON.stringify({ type: "object" });
      // Made by its first upload.
      const t0 = Date.now();
      await h.upload("demo", "one.schema.json", schema);
      const t1 = Date.now();
      const born = await createdAt("demo");
      assert.ok(born >= t0 && born <= t1, `${t0} <= ${born} <= ${t1}`);
      // Later uploads, a deploy and a token do not move it.
      await new Promise((r) => setTimeout(r, 20));
      await h.upload("demo", "two.schema.json", schema);
      await deployGreetOver(h.api);
      const token = await h.api("/api/v1/tenants/demo/token", {
        method: "POST",
      });
      assert.ok(token.ok, await token.clone().text());
      assert.equal(await createdAt("demo"), born);
      const listed = (await (await h.api("/api/v1/tenants")).json()).tenants;
      assert.equal(
        Date.parse(
          listed.find((t: { id: string }) => t.id === "demo").createdAt,
        ),
        born,
      );
      // Made by `tenant create`.
      const t2 = Date.now();
      await createTenant(h, "acme");
      const acme = await createdAt("acme");
      assert.ok(acme >= t2 && acme <= Date.now());
      // Deleted, then made again by an upload: born again.
      assert.equal(
        await status(h.api("/api/v1/tenants/demo", { method: "DELETE" })),
        204,
      );
      let again = 0;
      for (let i = 0; i < 400 && again !== 201; i++) {
        again = await status(
          h.api("/api/v1/tenants/demo/files/one.schema.json", {
            method: "PUT",
            body: schema,
          }),
        );
        if (again !== 201) await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(again, 201, `the tenant could be made again: ${again}`);
      assert.ok(await createdAt("demo") > born);
    } finally {
      await h.close();
    }
  },
);
