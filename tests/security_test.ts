/**
 * The security suite: every route of the platform, enumerated from the app
 * itself, attacked with no token, wrong tokens, another tenant's token,
 * path traversal and odd names in every name, and oversized and malformed
 * bodies; then token rotation and deletion, the executions stream, signed
 * (hmac) and public events.
 *
 * Every hostile request is checked by `Prober` (tests/_probe.ts): the
 * expected status, problem+json errors, no change anywhere in the KV (keys
 * and versionstamps before and after), no read of the victim's keys, and
 * none of the victim's secrets or names in the answer. `ROUTES` says how to
 * make a valid request of each route; the first step fails when the app has
 * a route the table does not know, so a new route gets attacked too.
 */
import assert from "node:assert/strict";
import { inspectRoutes } from "hono/dev";
import { parse as parseYaml } from "yaml";
import { signWebhook } from "../components/listener/webhook_signature.ts";
import { kvSnapshot } from "./_kv_audit.ts";
import { Prober, type Protected } from "./_probe.ts";
import {
  malformedBodies,
  oddSegments,
  pad,
  q,
  RAW_SEGMENTS,
  wrongAuthorizations,
} from "./_security_inputs.ts";
import {
  fill,
  paramsOf,
  probe,
  PUBLIC_ROUTES,
  ROUTES,
  split,
} from "./_security_routes.ts";
import {
  bearer,
  createGreetTenant,
  packageYaml,
  settle,
  startWorld,
} from "./_security_world.ts";

/** Reads a route may make before it knows who calls: the listener looks up the event's definition (its auth says how to check). */
function mayRead(path: string, key: Deno.KvKey): boolean {
  return /^\/events\/victim\//.test(path) &&
    ["evowner", "pkg", "pkgver"].includes(key[0] as string);
}

function report(p: Prober): void {
  assert.deepEqual(
    p.failures,
    [],
    `${p.failures.length} of ${p.count} probes failed:\n${
      p.failures.join("\n")
    }`,
  );
}

Deno.test("security: every route refuses what it must and leaks nothing", async (t) => {
  const started = performance.now();
  const w = await startWorld();
  const { h, victim, attacker } = w;
  const victimSide: Protected = {
    tenant: "victim",
    markers: w.victimMarkers,
    mayRead,
  };
  /** The admin on the victim's routes, the attacker on its own. */
  const principals = [
    { t: victim, token: h.adminToken, as: "admin" },
    { t: attacker, token: attacker.token, as: "hostile" },
  ] as const;
  let total = 0;
  const run = async (name: string, fn: (p: Prober) => Promise<void>) =>
    await t.step(name, async () => {
      const p = new Prober(h, w.reads, victimSide);
      const t0 = performance.now();
      try {
        await fn(p);
      } finally {
        total += p.count;
        console.log(
          `${name}: ${p.count} requests, ${
            Math.round(performance.now() - t0)
          } ms`,
        );
      }
      report(p);
    });
  try {
    await run("the route table covers every route of the app", async () => {
      const routes = new Set(
        inspectRoutes(h.platform.app)
          .filter((r) => !r.isMiddleware)
          .map((r) => `${r.method} ${r.path}`),
      );
      for (const r of PUBLIC_ROUTES) {
        assert.ok(routes.delete(r), `${r} is not a route any more`);
      }
      assert.deepEqual(
        [...routes].sort(),
        Object.keys(ROUTES).sort(),
        "ROUTES must list every route of the app but the public ones",
      );
      for (const route of Object.keys(ROUTES)) {
        for (const name of paramsOf(route)) {
          assert.ok(name in victim.params, `${route}: unknown :${name}`);
          assert.ok(name in attacker.params, `${route}: unknown :${name}`);
        }
      }
      // The public routes answer without a token and name no tenant.
      for (const r of PUBLIC_ROUTES) {
        const res = await fetch(h.url + split(r).path);
        const text = await res.text();
        assert.equal(res.status, 200);
        assert.ok(!text.includes("victim"), `${r} names a tenant`);
      }
    });

    await run("no token or a wrong token: 401 on every route", async (p) => {
      for (const route of Object.keys(ROUTES)) {
        for (
          const headers of wrongAuthorizations(victim.token, h.adminToken)
        ) {
          await p.send(probe(route, victim, headers, [401], "hostile"));
        }
        // A token in the query or a cookie is no token.
        for (const name of ["token", "access_token", "authorization"]) {
          const pr = probe(route, victim, {}, [401], "hostile");
          const sep = pr.path.includes("?") ? "&" : "?";
          await p.send({
            ...pr,
            path: `${pr.path}${sep}${name}=${encodeURIComponent(victim.token)}`,
          });
        }
        await p.send({
          ...probe(
            route,
            victim,
            {
              cookie:
                `token=${victim.token}; authorization=Bearer%20${h.adminToken}`,
            },
            [401],
            "hostile",
          ),
          label: `${route} with tokens in cookies`,
        });
      }
    });

    await run(
      "methods a path does not take: 404, nothing touched",
      async (p) => {
        const methods = new Map<string, Set<string>>();
        for (const route of Object.keys(ROUTES)) {
          const { method, path } = split(route);
          methods.set(path, (methods.get(path) ?? new Set()).add(method));
        }
        for (const [path, taken] of methods) {
          const others = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
            .filter((m) => !taken.has(m));
          // HEAD is answered like GET where there is a GET.
          if (!taken.has("GET")) others.push("HEAD");
          for (const method of others) {
            for (const { as, token } of principals) {
              await p.send({
                method,
                path: fill(path, victim.params),
                headers: {
                  ...bearer(token),
                  // Method overrides are not honoured.
                  "x-http-method-override": [...taken][0],
                  "x-method-override": [...taken][0],
                },
                body: method === "GET" || method === "HEAD" ? undefined : "{}",
                expect: as === "admin" ? [404, 405] : [403, 404, 405],
                as,
              });
            }
          }
        }
      },
    );

    await run(
      "another tenant's token: 403 on the victim's routes, admin routes refuse every tenant",
      async (p) => {
        for (const [route, spec] of Object.entries(ROUTES)) {
          const as = bearer(attacker.token);
          switch (spec.access) {
            case "tenant":
              await p.send(probe(route, victim, as, [403], "hostile"));
              break;
            case "admin":
              await p.send(probe(route, victim, as, [403], "hostile"));
              await p.send(probe(route, attacker, as, [403], "hostile"));
              // Not even the victim's own token.
              await p.send({
                ...probe(route, victim, bearer(victim.token), [403], "admin"),
                label: `${route} with the victim's own token`,
              });
              break;
            case "deploy": {
              await p.send(probe(route, victim, as, [403], "hostile"));
              for (const tenant of ["VICTIM", "victim ", " victim"]) {
                await p.send({
                  ...probe(route, victim, as, [400, 403], "hostile"),
                  body: packageYaml({ ...victim.names, tenant }),
                  label: `${route} for tenant ${q(tenant)}`,
                });
              }
              await p.send({
                ...probe(route, victim, as, [403], "hostile"),
                body: q(parseYaml(packageYaml(victim.names))),
                label: `${route} as JSON`,
              });
              break;
            }
            case "self": {
              const res = await p.send(
                probe(route, attacker, as, [200], "hostile"),
              );
              p.assert(
                res !== null && !res.text.includes('"victim"'),
                `${route} shows the attacker another tenant`,
              );
              break;
            }
          }
        }
        // The listener: another tenant's token on the victim's event.
        await p.send(
          probe("POST /events/:tenant/:event", victim, bearer(attacker.token), [
            403,
          ], "hostile"),
        );
      },
    );

    await run(
      "odd names in every path segment: 400 or 404, nothing touched",
      async (p) => {
        for (const [route, spec] of Object.entries(ROUTES)) {
          const names = paramsOf(route);
          for (const name of names) {
            for (const odd of oddSegments(victim.params[name])) {
              const asAdmin = { ...victim.params, [name]: odd };
              await p.send({
                ...probe(
                  route,
                  victim,
                  undefined,
                  [400, 404],
                  "admin",
                  asAdmin,
                ),
                headers: bearer(h.adminToken),
              });
              // The attacker, in its own tenant, aiming at the victim's.
              const own = { ...attacker.params, [name]: odd };
              const forbidden = name === "tenant" || spec.access === "admin";
              await p.send(
                probe(
                  route,
                  attacker,
                  bearer(attacker.token),
                  forbidden ? [400, 403, 404] : [400, 404],
                  "hostile",
                  own,
                ),
              );
            }
            for (const odd of RAW_SEGMENTS) {
              const pr = probe(
                route,
                victim,
                bearer(h.adminToken),
                [400, 404],
                "admin",
                { ...victim.params, [name]: odd },
              );
              await p.sendRaw({ ...pr, label: `raw ${pr.method} ${pr.path}` });
            }
          }
          // Dot segments that climb from the attacker's tenant into the victim's.
          if (names.includes("tenant")) {
            const path = fill(split(route).path, victim.params);
            for (
              const climb of [
                "attacker/..",
                "attacker/%2e%2e",
                "attacker/./../.",
              ]
            ) {
              // Routed as sent (no route takes a ".." segment): a 404.
              const pr = probe(
                route,
                victim,
                bearer(attacker.token),
                [403, 404],
                "hostile",
              );
              await p.sendRaw({
                ...pr,
                path: path.replace("/victim", `/${climb}/victim`),
                label: `raw ${pr.method} ${
                  path.replace("/victim", `/${climb}/victim`)
                }`,
              });
            }
          }
        }
      },
    );

    await run(
      "odd values in queries, headers and body fields: 400, nothing touched",
      async (p) => {
        for (const [route, spec] of Object.entries(ROUTES)) {
          for (const { t, token, as } of principals) {
            for (const f of spec.fields?.(t) ?? []) {
              const expect = [...(f.expect ?? [400])];
              if (t === attacker && spec.access === "admin") expect.push(403);
              const pr = probe(
                route,
                t,
                { ...bearer(token), ...f.headers },
                expect,
                as,
              );
              await p.send({
                ...pr,
                path: f.query === undefined ? pr.path : `${pr.path}?${f.query}`,
                body: f.body ?? pr.body,
                label: `${route} (${t.id}) ${f.label}`,
              });
            }
          }
        }
      },
    );

    await run(
      "bodies over each limit: 413; a Content-Length that lies: 413",
      async (p) => {
        for (const [route, spec] of Object.entries(ROUTES)) {
          for (const limit of spec.limits ?? []) {
            const size = limit.bytes + 1;
            const params = { ...victim.params, ...limit.params };
            const base = probe(
              route,
              victim,
              bearer(h.adminToken),
              [413],
              "admin",
              params,
            );
            const body = limit.body(victim, size);
            assert.equal(body.length, size);
            await p.send({
              ...base,
              body,
              label: `${route} ${limit.what} of ${size} bytes`,
            });
            await p.send({
              ...base,
              body: () =>
                new ReadableStream({
                  start(c) {
                    for (let o = 0; o < body.length; o += 65536) {
                      c.enqueue(body.slice(o, o + 65536));
                    }
                    c.close();
                  },
                }),
              label: `${route} ${limit.what} of ${size} bytes, chunked`,
            });
          }
          if (spec.limits) {
            const max = Math.max(...spec.limits.map((l) => l.bytes));
            for (const declared of [max + 1, 1e15]) {
              const base = probe(
                route,
                victim,
                bearer(h.adminToken),
                [413],
                "admin",
              );
              await p.sendRaw({
                ...base,
                body: '{"a":1}',
                contentLength: declared,
                label: `raw ${route} declaring ${declared} bytes, sending 7`,
              });
            }
          }
        }
      },
    );

    await run("malformed bodies: 400, nothing touched", async (p) => {
      for (const [route, spec] of Object.entries(ROUTES)) {
        if (!spec.parses) continue;
        const limit = Math.min(...(spec.limits ?? []).map((l) => l.bytes));
        for (const m of malformedBodies(spec.parses, limit)) {
          const params = { ...victim.params, ...m.params };
          await p.send({
            ...probe(
              route,
              victim,
              bearer(h.adminToken),
              [400],
              "admin",
              params,
            ),
            body: m.body,
            label: `${route} ${m.label}`,
          });
          // The same from the attacker, on its own tenant.
          if (spec.access !== "admin") {
            await p.send({
              ...probe(
                route,
                attacker,
                bearer(attacker.token),
                [400],
                "hostile",
                {
                  ...attacker.params,
                  ...m.params,
                },
              ),
              body: m.body,
              label: `${route} (attacker) ${m.label}`,
            });
          }
        }
      }
    });

    await run(
      "the executions stream refuses other tenants and carries only its tenant's executions",
      async (p) => {
        const stream = "/api/v1/tenants/victim/executions/stream";
        for (
          const headers of [
            bearer(attacker.token),
            {},
            { authorization: "Bearer jbt_wrong" },
          ]
        ) {
          await p.send({
            method: "GET",
            path: stream,
            headers,
            expect: headers.authorization?.startsWith("Bearer jbt_wrong") ||
                !headers.authorization
              ? [401]
              : [403],
            as: "hostile",
          });
        }
        const res = await fetch(h.url + stream, {
          headers: bearer(victim.token),
        });
        assert.equal(res.status, 200);
        assert.match(
          res.headers.get("content-type") ?? "",
          /^text\/event-stream/,
        );
        const reader = res.body!.pipeThrough(new TextDecoderStream())
          .getReader();
        let seen = "";
        try {
          await h.send("attacker", "greet", [{ name: "MalloryStream" }]);
          await h.waitFor(
            "attacker",
            (e) =>
              e.some((x) =>
                x.logs.some((l) => l.message.includes("MalloryStream"))
              ),
          );
          await h.send("victim", "greet", [{ name: "VictimStream" }]);
          const deadline = Date.now() + 5000;
          while (!seen.includes("VictimStream") && Date.now() < deadline) {
            const { value, done } = await reader.read();
            if (done) break;
            seen += value;
          }
        } finally {
          await reader.cancel();
        }
        assert.match(seen, /event: execution/);
        assert.match(seen, /VictimStream/);
        assert.ok(
          !seen.includes("MalloryStream"),
          "the victim's stream shows the attacker's execution",
        );
        assert.ok(!seen.includes('"tenant":"attacker"'));
        await settle(h);
      },
    );

    await run(
      "a rotated token and a deleted tenant's token stop working at once",
      async (p) => {
        const mk = async (id: string) => {
          const res = await h.api("/api/v1/tenants", {
            method: "POST",
            body: q({ id }),
          });
          assert.equal(res.status, 201);
          return (await res.json()).token as string;
        };
        // Rotation, by the tenant itself.
        const old = await mk("rotor");
        const rotated = await h.api("/api/v1/tenants/rotor/token", {
          method: "POST",
          headers: bearer(old),
        });
        assert.equal(rotated.status, 201);
        const fresh = (await rotated.json()).token as string;
        assert.notEqual(fresh, old);
        await settle(h);
        const refusedEverywhere = async (token: string, tenant: string) => {
          for (const route of Object.keys(ROUTES)) {
            const params = { ...victim.params, tenant };
            const t = { ...victim, params };
            await p.send({
              ...probe(route, t, bearer(token), [401], "hostile", params),
              label: `${route} (${tenant}) with a dead token`,
            });
          }
        };
        await refusedEverywhere(old, "rotor");
        await refusedEverywhere(old, "victim");
        const who = await h.api("/api/v1/whoami", { headers: bearer(fresh) });
        assert.deepEqual(await who.json(), {
          principal: "tenant",
          tenant: "rotor",
        });

        // Deletion: the tenant shares every blob with the victim.
        const doomed = await createGreetTenant(h, "doomed");
        await h.send("doomed", "greet", [{ name: "Doomed" }]);
        await h.waitFor("doomed", (e) => e.some((x) => x.event === "greeted"));
        await settle(h);
        const victimKeys = async () =>
          [...(await kvSnapshot(h.kv))].filter(([k]) =>
            k.includes("string:victim") || k.startsWith("string:blob")
          );
        const before = await victimKeys();
        const del = await h.api("/api/v1/tenants/doomed", { method: "DELETE" });
        assert.equal(del.status, 204);
        await settle(h);
        assert.deepEqual(
          await victimKeys(),
          before,
          "deleting a tenant touched the victim",
        );
        // Until its delete is finished (a last sweep two leases later), the
        // id cannot be taken again; then nothing of it is left.
        const early = await h.api("/api/v1/tenants", {
          method: "POST",
          body: q({ id: "doomed" }),
        });
        assert.equal(early.status, 409, await early.text());
        const deadline = Date.now() + 60_000;
        let left: string[];
        for (;;) {
          left = [...(await kvSnapshot(h.kv)).keys()].filter((k) =>
            k.includes("doomed")
          );
          if (left.length === 0 || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.deepEqual(left, []);
        const file = await h.api(
          "/api/v1/tenants/victim/files/victim-trap.wasm",
        );
        assert.deepEqual(new Uint8Array(await file.arrayBuffer()), victim.file);
        await refusedEverywhere(doomed, "doomed");
        await refusedEverywhere(doomed, "victim");
        // A new tenant of the same name does not revive the old token.
        const reborn = await mk("doomed");
        assert.notEqual(reborn, doomed);
        await settle(h);
        await refusedEverywhere(doomed, "doomed");
      },
    );

    await run(
      "hmac events refuse missing, wrong, stale and replayed signatures and queue nothing",
      async (p) => {
        const signerToken = await createGreetTenant(h, "signer", "hmac");
        const secretOf = async (t: string) =>
          (await (await h.api(`/api/v1/tenants/${t}/webhook-secret`)).json())
            .secret as string;
        const secret = await secretOf("signer");
        const others = [await secretOf("victim"), await secretOf("attacker")];
        await settle(h);
        p.protect = {
          tenant: "signer",
          markers: [secret, signerToken],
          skipReads: true,
        };
        const path = "/events/signer/greet";
        const body = '{"data":[{"name":"SignedOnce"}]}';
        const now = Math.floor(Date.now() / 1000);
        const sig = await signWebhook(secret, body, now);
        const hex = sig.split("v1=")[1];
        const post = (
          headers: Record<string, string>,
          label: string,
          b = body,
          expect = [401],
        ) =>
          p.send({
            method: "POST",
            path,
            headers,
            body: b,
            expect,
            as: "hostile",
            label: `hmac: ${label}`,
          });
        const sign = (h: string) => ({ "jobico-signature": h });
        await post({}, "no signature");
        await post(sign(""), "empty signature");
        await post(sign("garbage"), "garbage");
        await post(sign("t=abc,v1=00"), "a timestamp that is not a number");
        await post(sign(`t=${now}`), "no v1");
        await post(sign(`v1=${hex}`), "no t");
        await post(sign(`t=${now},v1=${"0".repeat(64)}`), "zeros");
        await post(sign(`t=${now},v1=${hex.toUpperCase()}x`), "not hex");
        await post(sign(`t=${now},v1=${"a".repeat(8000)}`), "8000 characters");
        await post(sign(`t=${now + 1},v1=${hex}`), "another t than signed");
        await post(
          sign(await signWebhook("whsec_wrong", body, now)),
          "a wrong secret",
        );
        for (const other of others) {
          await post(
            sign(await signWebhook(other, body, now)),
            "another tenant's secret",
          );
        }
        await post(sign(await signWebhook(secret, body, now - 600)), "stale");
        await post(
          sign(await signWebhook(secret, body, now + 600)),
          "from the future",
        );
        await post(
          sign(sig),
          "a tampered body",
          body.replace("Signed", "Forged"),
        );
        await post(
          { ...sign(sig), authorization: "Bearer jbt_wrong" },
          "with a wrong token",
        );
        await post(
          { ...sign(sig), ...bearer(attacker.token) },
          "with another tenant's token",
          body,
          [403],
        );
        // A signature is no key to another tenant's token-only event.
        await p.send({
          method: "POST",
          path: "/events/attacker/greet",
          headers: sign(sig),
          body,
          expect: [401],
          as: "hostile",
          label: "hmac: a signature on a token event",
        });
        const badItem = '{"data":[{"nom":"x"}]}';
        await post(
          sign(await signWebhook(secret, badItem, now)),
          "a signed item against the schema",
          badItem,
          [400],
        );

        // Accepted once; the same request again is a replay.
        const first = await fetch(h.url + path, {
          method: "POST",
          headers: sign(sig),
          body,
        });
        assert.equal(first.status, 200, await first.clone().text());
        await first.body?.cancel();
        await h.waitFor("signer", (e) => e.some((x) => x.event === "greeted"));
        await settle(h);
        await post(sign(sig), "replayed");
        await post(
          { ...sign(sig), "idempotency-key": "another" },
          "replayed with a new Idempotency-Key",
        );
      },
    );

    await run(
      "public events take no credentials but still validate their input",
      async (p) => {
        const openToken = await createGreetTenant(h, "open", "public");
        const res = await fetch(h.url + "/events/open/greet", {
          method: "POST",
          body: '{"data":[{"name":"Anyone"}]}',
        });
        assert.equal(res.status, 200, await res.clone().text());
        await res.body?.cancel();
        await h.waitFor("open", (e) => e.some((x) => x.event === "greeted"));
        await settle(h);
        p.protect = { tenant: "open", markers: [openToken], skipReads: true };
        const post = (
          body: string | Uint8Array,
          label: string,
          expect = [400],
          headers = {},
        ) =>
          p.send({
            method: "POST",
            path: "/events/open/greet",
            headers,
            body,
            expect,
            as: "hostile",
            label: `public: ${label}`,
          });
        for (const m of malformedBodies("event", 1024 * 1024)) {
          await post(m.body, m.label);
        }
        await post('{"data":[{"nom":"x"}]}', "an item against the schema");
        await post(
          pad('{"data":[{"name":"x"}]}', 1024 * 1024 + 1),
          "over 1 MiB",
          [413],
        );
        await post(q({ data: Array(1001).fill({ name: "x" }) }), "1001 items", [
          413,
        ]);
        await post('{"data":[{"name":"x"}]}', "a bad Idempotency-Key", [400], {
          "idempotency-key": "a b",
        });
        // The tenant's API stays closed.
        for (
          const route of Object.keys(ROUTES).filter((r) =>
            r.includes(":tenant") && !r.startsWith("POST /events")
          )
        ) {
          const params = { ...victim.params, tenant: "open" };
          await p.send(
            probe(route, { ...victim, params }, {}, [401], "hostile", params),
          );
        }
      },
    );
  } finally {
    await h.close();
    console.log(
      `security: ${Object.keys(ROUTES).length} routes, ${total} requests, ${
        Math.round(performance.now() - started)
      } ms`,
    );
  }
});
