/**
 * A load generator for when wrk is not available: `connections` loops of
 * keep-alive `fetch` POSTs of one body, for `seconds`, in its own process.
 *
 * Run: deno run --allow-net --allow-read bench/load_gen.ts <spec.json>
 * where the spec is `{url, body, headers, connections, seconds,
 * uniqueHeader?}` (a header each request carries with a value of its own).
 * Prints `{requests, non2xx, errors, seconds, p50Ms, p99Ms}` on stdout.
 */
interface Spec {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  uniqueHeader?: string;
}

const spec: Spec = JSON.parse(await Deno.readTextFile(Deno.args[0]));
const body = new TextEncoder().encode(spec.body);
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
        const res = await fetch(spec.url, {
          method: "POST",
          headers: spec.uniqueHeader
            ? { ...spec.headers, [spec.uniqueHeader]: `${prefix}-${++sent}` }
            : spec.headers,
          body,
        });
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
  latencies.length ? latencies[Math.floor((latencies.length - 1) * p)] : 0;
console.log(JSON.stringify({
  requests,
  non2xx,
  errors,
  seconds,
  p50Ms: pct(0.5),
  p99Ms: pct(0.99),
}));
