/**
 * Traces and metrics as an operator reads them: the platform in its own
 * process with Deno's OpenTelemetry on (OTEL_DENO=true) exporting to an
 * OTLP/HTTP receiver on loopback in this test, and its /metrics endpoint.
 * One event is followed from webhook to result in one trace.
 */
import assert from "node:assert/strict";
import { authFetch } from "./_auth_fetch.ts";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";

const TOKEN = "observability-admin-token";

interface Span {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP (JSON) receiver: the spans it was sent. */
function otlpReceiver() {
  const spans: Span[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const body = await req.json().catch(() => null);
      if (new URL(req.url).pathname === "/v1/traces" && body) {
        for (const rs of body.resourceSpans ?? []) {
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                name: s.name,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId || undefined,
                attributes: Object.fromEntries(
                  (s.attributes ?? []).map((
                    a: { key: string; value: Record<string, unknown> },
                  ) => [a.key, Object.values(a.value)[0]]),
                ),
              });
            }
          }
        }
      }
      return Response.json({});
    },
  );
  return { spans, server, url: `http://127.0.0.1:${server.addr.port}` };
}

/** `name{labels} value` lines of a Prometheus text exposition. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

Deno.test("one event is followed from webhook to result in OTLP spans, and /metrics counts it per tenant", async () => {
  const receiver = otlpReceiver();
  const server = await spawnServer(RUN_MAIN, {
    JOBICO_DATA: ":memory:",
    JOBICO_ADMIN_TOKEN: TOKEN,
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: "jobico-test",
  });
  const api = authFetch(server.url, TOKEN);
  let stopped = false;
  try {
    await deployGreetOver(api);
    const res = await api("/events/demo/greet", {
      method: "POST",
      body: JSON.stringify({ data: [{ name: "Ada" }] }),
    });
    assert.equal(res.status, 200);
    const [eventId] = (await res.json()).ids;
    // Two refusals: a schema error and no token.
    const bad = await api("/events/demo/greet", {
      method: "POST",
      body: JSON.stringify({ data: [{ nom: "Ada" }] }),
    });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    const anon = await fetch(server.url + "/events/demo/greet", {
      method: "POST",
      body: JSON.stringify({ data: [{ name: "x" }] }),
    });
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
    // Wait until the greeting and its chained audit are recorded.
    for (let i = 0; i < 400; i++) {
      const page = await (await api("/api/v1/tenants/demo/executions")).json();
      if (page.executions.length >= 2) break;
      await new Promise((r) => setTimeout(r, 25));
    }

    // /metrics: admin only, per tenant.
    const anonymous = await fetch(server.url + "/metrics");
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const metricsRes = await api("/metrics");
    assert.equal(metricsRes.status, 200);
    assert.match(metricsRes.headers.get("content-type") ?? "", /text\/plain/);
    const m = samples(await metricsRes.text());
    assert.equal(
      m.get('jobico_events_accepted_total{tenant="demo",event="greet"}'),
      1,
    );
    assert.equal(
      m.get('jobico_events_rejected_total{tenant="demo",reason="invalid"}'),
      1,
    );
    assert.equal(
      m.get(
        'jobico_events_rejected_total{tenant="demo",reason="unauthorized"}',
      ),
      1,
    );
    assert.equal(
      m.get('jobico_executions_total{tenant="demo",status="ok"}'),
      2,
    );
    assert.equal(
      m.get(
        'jobico_execution_duration_seconds_count{tenant="demo",status="ok"}',
      ),
      2,
    );
    assert.equal(m.get('jobico_deploys_total{tenant="demo"}'), 1);
    assert.equal(
      m.get('jobico_queue_depth{tenant="demo",queue="greetings"}'),
      0,
    );
    assert.equal(
      m.get('jobico_queue_dead_letters{tenant="demo",queue="audit"}'),
      0,
    );

    // Stopping flushes the exporter.
    assert.equal((await server.stop()).code, 0);
    stopped = true;
    const spans = receiver.spans;
    const names = new Set(spans.map((s) => s.name));
    for (const n of ["jobico.deploy", "jobico.validate", "jobico.enqueue"]) {
      assert.ok(names.has(n), `no ${n} span in ${[...names].join(", ")}`);
    }
    const execute = spans.find((s) =>
      s.name === "jobico.execute" && s.attributes["jobico.event_id"] === eventId
    );
    assert.ok(execute, "no execute span for the event");
    assert.equal(execute.attributes["jobico.tenant"], "demo");
    assert.equal(execute.attributes["jobico.status"], "ok");
    assert.equal(execute.attributes["jobico.queue"], "greetings");
    assert.equal(Number(execute.attributes["jobico.attempt"]), 1);
    const enqueue = spans.find((s) => s.spanId === execute.parentSpanId);
    assert.equal(enqueue?.name, "jobico.enqueue");
    // The enqueue span is inside Deno's span of the webhook request.
    const http = spans.find((s) => s.spanId === enqueue.parentSpanId);
    assert.ok(http, "the enqueue span has no HTTP parent");
    assert.equal(http.attributes["url.path"], "/events/demo/greet");
    // The chained audit of the result is in the same trace.
    const audit = spans.find((s) =>
      s.name === "jobico.execute" && s.attributes["jobico.event"] === "greeted"
    );
    assert.equal(audit?.traceId, execute.traceId);
  } finally {
    if (!stopped) await server.kill();
    await receiver.server.shutdown();
  }
});
