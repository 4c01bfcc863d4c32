/**
 * A load generator for when wrk is not available: `connections` loops of
 * keep-alive `fetch` POSTs of one body, for `seconds`, in its own process.
 *
 * Run: deno run --allow-net --allow-read bench/load_gen.ts <spec.json>
 * where the spec is `{url, body, headers, connections, seconds,
 * uniqueHeader?, uniquePrefix?, signWith?}` (a header each request carries
 * with a value of its own, starting with the prefix; a secret each request
 * is signed with, `{unique}` in its body replaced by a value of its own).
 * Prints `{requests, non2xx, errors, seconds, p50Ms, p99Ms}` on stdout.
 */
import { createHmac } from "node:crypto";

interface Spec {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  uniqueHeader?: string;
  uniquePrefix?: string;
  signWith?: string;
}

const spec: Spec = JSON.parse(await Deno.readTextFile(Deno.args[0]));
const encoder = new TextEncoder();
const fixedBody = encoder.encode(spec.body);
let requests = 0, non2xx = 0, errors = 0;
const latencies: number[] = [];
const prefix = crypto.randomUUID();
let sent = 0;
const t0 = performance.now();
const end = t0 + spec.seconds * 1000;
await Promise.all(
  Array.from({ length: spec.connections }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        const unique = `${prefix}-${++sent}`;
        let headers = spec.uniqueHeader
          ? {
            ...spec.headers,
            [spec.uniqueHeader]: (spec.uniquePrefix ?? "") + unique,
          }
          : spec.headers;
        let body = fixedBody;
        if (spec.signWith) {
          // As webhook_signature.ts's scheme: HMAC-SHA256 of "t.body".
          const text = spec.body.replaceAll("{unique}", unique);
          const t = Math.floor(Date.now() / 1000);
          const v1 = createHmac("sha256", spec.signWith)
            .update(`${t}.${text}`).digest("hex");
          headers = { ...headers, "jobico-signature": `t=${t},v1=${v1}` };
          body = encoder.encode(text);
        }
        const res = await fetch(spec.url, { method: "POST", headers, body });
        await res.arrayBuffer();
        if (res.status < 200 || res.status > 299) non2xx++;
        requests++;
        if (latencies.length < 1_000_000) latencies.push(performance.now() - s);
      } catch {
        errors++;
      }
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies.length
    ? Math.round(latencies[Math.floor((latencies.length - 1) * p)] * 1000) /
      1000
    : 0;
console.log(JSON.stringify({
  requests,
  non2xx,
  errors,
  seconds,
  p50Ms: pct(0.5),
  p99Ms: pct(0.99),
}));
