/**
 * The end-to-end latency client, in its own process: follows the
 * platform's execution stream (Server-Sent Events,
 * `/api/v1/tenants/{t}/executions/stream`), then POSTs single-item events at
 * a fixed rate for some seconds over `connections` keep-alive connections
 * (each connection sends on its own schedule; one that falls behind sends
 * at once). For each event it notes when the 200 arrived (accepted) and
 * when its execution arrived on the stream (recorded), both on this
 * process's clock, and prints the latency percentiles.
 *
 * Run: deno run --allow-net --allow-read bench/e2e_client.ts <spec.json>
 * spec: {url, token, tenant, event, body, rate, seconds, connections, drainMs}
 */
interface Spec {
  url: string;
  token: string;
  tenant: string;
  event: string;
  /** A single-item body, `{"data": [item]}`. */
  body: string;
  /** Events per second, all connections together. */
  rate: number;
  seconds: number;
  connections: number;
  /** How long to wait for the last executions after sending. Default 10 s. */
  drainMs?: number;
}

export interface E2eClientResult {
  sent: number;
  accepted: number;
  recorded: number;
  /** Accepted events whose execution never arrived. */
  missing: number;
  /** Achieved send rate (accepted/s). */
  rate: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

const spec: Spec = JSON.parse(await Deno.readTextFile(Deno.args[0]));
const auth = { authorization: `Bearer ${spec.token}` };
const acceptedAt = new Map<string, number>();
const recordedAt = new Map<string, number>();
const ID = /"eventId":"([0-9a-z]+)"/;

// Follow the stream first: only executions recorded after this are seen.
const ctrl = new AbortController();
const stream = await fetch(
  `${spec.url}/api/v1/tenants/${spec.tenant}/executions/stream`,
  { headers: auth, signal: ctrl.signal },
);
if (!stream.ok || !stream.body) {
  throw new Error(`The stream answered ${stream.status}`);
}
const reading = (async () => {
  const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const now = performance.now();
      buf += value;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith("data:")) continue;
        const m = ID.exec(line);
        if (m && !recordedAt.has(m[1])) recordedAt.set(m[1], now);
      }
    }
  } catch { /* aborted */ }
})();

const body = new TextEncoder().encode(spec.body);
const headers = { ...auth, "content-type": "application/json" };
let sent = 0;
const t0 = performance.now();
const end = t0 + spec.seconds * 1000;
const interval = (1000 * spec.connections) / spec.rate;
await Promise.all(
  Array.from({ length: spec.connections }, async (_, c) => {
    let next = t0 + (interval * c) / spec.connections;
    while (next < end) {
      const wait = next - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      next += interval;
      sent++;
      const res = await fetch(
        `${spec.url}/events/${spec.tenant}/${spec.event}`,
        {
          method: "POST",
          headers,
          body,
        },
      );
      const now = performance.now();
      if (res.status !== 200) {
        await res.body?.cancel();
        continue;
      }
      const { ids } = await res.json() as { ids: string[] };
      for (const id of ids) acceptedAt.set(id, now);
    }
  }),
);
const sendSeconds = (performance.now() - t0) / 1000;
const deadline = performance.now() + (spec.drainMs ?? 10_000);
while (performance.now() < deadline) {
  let all = true;
  for (const id of acceptedAt.keys()) {
    if (!recordedAt.has(id)) {
      all = false;
      break;
    }
  }
  if (all) break;
  await new Promise((r) => setTimeout(r, 50));
}
ctrl.abort();
await reading;

const latencies: number[] = [];
let missing = 0;
for (const [id, at] of acceptedAt) {
  const rec = recordedAt.get(id);
  if (rec === undefined) missing++;
  // The stream may deliver an execution before its 200 reaches the client.
  else latencies.push(Math.max(0, rec - at));
}
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies.length
    ? Math.round(
      latencies[
        Math.min(latencies.length - 1, Math.floor(latencies.length * p))
      ] * 100,
    ) / 100
    : NaN;
const result: E2eClientResult = {
  sent,
  accepted: acceptedAt.size,
  recorded: latencies.length,
  missing,
  rate: Math.round(acceptedAt.size / sendSeconds),
  p50Ms: pct(0.5),
  p90Ms: pct(0.9),
  p99Ms: pct(0.99),
  maxMs: pct(1),
};
console.log(JSON.stringify(result));
