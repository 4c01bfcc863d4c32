/**
 * The ingest baseline: Hono on `Deno.serve` with one route that only parses
 * the JSON body the listener gets (`{"data": [item, ...]}`) and answers how
 * many items it saw. No validation, no storage, no auth, no logs.
 *
 * Run: deno run --allow-net bench/bare_hono.ts [port]
 * Prints `{"url": "http://127.0.0.1:<port>"}` on stdout once it listens.
 */
import { Hono } from "hono";

const app = new Hono();
app.post("/events/:tenant/:event", async (c) => {
  const body = await c.req.json<{ data?: unknown[] }>();
  return c.json({ accepted: body.data?.length ?? 0 });
});
app.get("/healthz", (c) => c.json({ status: "ok" }));

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 0),
  onListen: ({ hostname, port }) =>
    console.log(JSON.stringify({ url: `http://${hostname}:${port}` })),
}, app.fetch);
