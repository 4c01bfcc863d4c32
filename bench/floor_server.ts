/**
 * The floors under ingest (bench/ingest_floor.ts): Hono on `Deno.serve`
 * with the bare baseline's route (parse the JSON body, answer a count), and
 * only one thing added, chosen by `mode`:
 *
 * - `bare`: nothing (bench/bare_hono.ts).
 * - `later`: the answer waits for a shared tick (a timer that every request
 *   arriving meanwhile waits for, about as long as a group commit takes),
 *   no store: what answering after a wait costs the runtime.
 * - `kv`: the body's bytes set in Deno KV, one commit per request, answered
 *   after it.
 * - `group`: the same set through goico's `GroupCommit` (the listener's own:
 *   requests arriving during a commit share the next), answered after the
 *   commit that holds it: the least a durable answer costs on Deno KV.
 * - `guarded`: `group` behind goico's `serveGuarded` (the platform's HTTP
 *   server: its own accept loop, bounded connections, timeouts) instead of
 *   `Deno.serve`.
 *
 * Run: deno run -A --unstable-kv bench/floor_server.ts <mode> [data dir]
 * Prints `{"url": "http://127.0.0.1:<port>"}` on stdout once it listens.
 */
import { Hono } from "hono";
import { GroupCommit, WriteBatch } from "@jobico/goico";
import { listenGuarded } from "./_http_front.ts";

const MODES = ["bare", "later", "kv", "group", "guarded"] as const;
type Mode = typeof MODES[number];
const mode = (Deno.args[0] ?? "bare") as Mode;
if (!MODES.includes(mode)) {
  throw new Error(`Unknown mode "${mode}": use ${MODES.join(", ")}`);
}
const grouped = mode === "group" || mode === "guarded";
const kv = mode === "kv" || grouped
  ? await Deno.openKv(`${Deno.args[1] ?? "."}/floor.sqlite3`)
  : undefined;
const commits = kv ? new GroupCommit(kv) : undefined;

// `later`: requests wait for the next tick, 1 ms after the first of them.
let tick: Promise<void> | undefined;
function nextTick(): Promise<void> {
  return tick ??= new Promise((r) =>
    setTimeout(() => {
      tick = undefined;
      r();
    }, 1)
  );
}

let n = 0;
const app = new Hono();
app.post("/events/:tenant/:event", async (c) => {
  const bytes = await c.req.arrayBuffer();
  const body = JSON.parse(new TextDecoder().decode(bytes)) as {
    data?: unknown[];
  };
  const key = ["floor", ++n];
  if (mode === "later") await nextTick();
  else if (mode === "kv") {
    const res = await kv!.atomic().set(key, new Uint8Array(bytes)).commit();
    if (!res.ok) throw new Error("commit refused");
  } else if (grouped) {
    const res = await commits!.commit(
      new WriteBatch(kv!).set(key, new Uint8Array(bytes)),
    );
    if (!res.ok) throw new Error("commit refused");
  }
  return c.json({ accepted: body.data?.length ?? 0 });
});
app.get("/healthz", (c) => c.json({ status: "ok" }));

// Ends normally on SIGTERM (how the benchmarks stop it), so that a
// `--cpu-prof` profile is written.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));

const hostname = "127.0.0.1";
const say = (port: number) =>
  console.log(JSON.stringify({ url: `http://${hostname}:${port}` }));
if (mode === "guarded") say(listenGuarded(app.fetch, hostname, 0));
else Deno.serve({ hostname, port: 0, onListen: (a) => say(a.port) }, app.fetch);
