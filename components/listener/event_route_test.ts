import assert from "node:assert/strict";
import { eventRoute } from "./event_route.ts";
import { postTo, seen, stepApp, stepWorld } from "./_test_steps.ts";

Deno.test("eventRoute resolves the path to the event's route and marks its tenant known", async () => {
  const w = await stepWorld();
  try {
    const app = stepApp({}, eventRoute(w), seen);
    const res = await postTo(app, "anything: the body is not read here");
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body.route, {
      tenant: "demo",
      package: "greet",
      version: 1,
      event: "greet",
    });
    assert.equal(body.knownTenant, "demo");
    assert.equal(body.bodyBytes, undefined);
  } finally {
    await w.close();
  }
});

Deno.test("eventRoute refuses names that are not names with a 400 naming them, before any lookup", async () => {
  const w = await stepWorld();
  try {
    const app = stepApp({}, eventRoute(w), seen);
    const cases: [string, RegExp][] = [
      ["/events/demo/gr%20eet", /^Invalid event id "gr eet"/],
      ["/events/demo/%2e%2e%2fx", /^Invalid event id "\.\.\/x"/],
      // Quoted as JSON: a control character shows as an escape.
      ["/events/de%00mo/greet", /^Invalid tenant "de\\u0000mo": use 1 to 64 /],
      ["/events/.demo/greet", /^Invalid tenant "\.demo"/],
      [`/events/demo/${"g".repeat(65)}`, /^Invalid event id "g{65}"/],
      ["/events/d%C3%A9mo/greet", /^Invalid tenant "démo"/],
    ];
    for (const [path, detail] of cases) {
      // No credentials at all: a bad name is refused before anything.
      const res = await postTo(app, "{}", {}, path);
      assert.equal(res.status, 400, path);
      const problem = await res.json();
      assert.match(problem.detail, detail, path);
      assert.equal(problem.knownTenant, undefined);
    }
  } finally {
    await w.close();
  }
});

Deno.test("eventRoute: an unknown event or tenant tells nothing to a caller without the tenant's token", async () => {
  const w = await stepWorld();
  try {
    const app = stepApp({}, eventRoute(w), seen);
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const ask = async (path: string, headers: Record<string, string>) => {
      const res = await postTo(app, "{}", headers, path);
      return [res.status, (await res.json()).detail];
    };
    // No token, a wrong one: 401 whether the event or tenant exists or not.
    for (const path of ["/events/demo/nothing", "/events/ghost/greet"]) {
      const [status, detail] = await ask(path, {});
      assert.equal(status, 401, path);
      assert.match(detail, /needs a token/);
      assert.equal((await ask(path, bearer("jbc_guessed")))[0], 401, path);
    }
    // Another tenant's token: 403, still not whether it exists.
    assert.equal(
      (await ask("/events/demo/nothing", bearer(w.otherToken)))[0],
      403,
    );
    // The tenant's own token (or the admin's) learns what is missing.
    assert.deepEqual(await ask("/events/demo/nothing", bearer(w.token)), [
      404,
      'Tenant "demo" has no event "nothing"',
    ]);
    assert.deepEqual(
      await ask(
        "/events/ghost/greet",
        bearer("test-admin-token-0123456789"),
      ),
      [404, 'Unknown tenant "ghost"'],
    );
  } finally {
    await w.close();
  }
});
