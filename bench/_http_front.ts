/**
 * The bare Hono app of bench/bare_hono.ts behind one of the HTTP fronts that
 * could bound connections, for bench/connection_guard_cost.ts:
 *
 * - `deno-serve`: plain `Deno.serve` (no bounds; the baseline);
 * - `guarded`: goico's `serveGuarded` (what the platform uses);
 * - `proxy`: an accept loop of `Deno.listen` that copies bytes both ways to
 *   `Deno.serve` on a unix socket (the design without Deno internals);
 * - `node-http`: `node:http` (Deno's Node compatibility), which has
 *   `headersTimeout`, `requestTimeout` and `keepAliveTimeout`, with a
 *   small Request/Response adapter.
 *
 * Run: deno run -A bench/_http_front.ts <front> [port]
 * Prints `{"url": "http://127.0.0.1:<port>"}` on stdout once it listens.
 */
import { Buffer } from "node:buffer";
import http from "node:http";
import { Hono } from "hono";
import {
  DEFAULT_CONNECTION_TIMEOUTS,
  serveGuarded,
  silentLogger,
} from "@jobico/goico";

export const FRONTS = ["deno-serve", "guarded", "proxy", "node-http"] as const;
export type Front = typeof FRONTS[number];

const app = new Hono();
app.post("/events/:tenant/:event", async (c) => {
  const body = await c.req.json<{ data?: unknown[] }>();
  return c.json({ accepted: body.data?.length ?? 0 });
});
app.get("/healthz", (c) => c.json({ status: "ok" }));

const hostname = "127.0.0.1";

/**
 * Serves `handler` with goico's `serveGuarded`, as the platform does (its
 * default timeouts, 896 connections, as under `ulimit -n 1024`); returns
 * the port it listens on.
 */
export function listenGuarded(
  handler: (req: Request) => Response | Promise<Response>,
  hostname: string,
  port: number,
): number {
  const server = serveGuarded(handler, {
    hostname,
    port,
    limits: { ...DEFAULT_CONNECTION_TIMEOUTS, maxConnections: 896 },
    onError: () => new Response("error", { status: 500 }),
    logger: silentLogger,
  });
  if (!server) throw new Error("This Deno cannot serve a connection");
  return server.addr.port;
}

function say(port: number) {
  console.log(JSON.stringify({ url: `http://${hostname}:${port}` }));
}

async function proxy(port: number) {
  const dir = await Deno.makeTempDir({ prefix: "jobico-front-" });
  const path = `${dir}/http.sock`;
  Deno.serve({ path, onListen: () => {} }, app.fetch);
  const listener = Deno.listen({ hostname, port });
  say((listener.addr as Deno.NetAddr).port);
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        for (let o = 0; o < n;) o += await to.write(buf.subarray(o, n));
      }
      await to.closeWrite();
    } catch { /* either side went away */ }
  };
  for await (const conn of listener) {
    (async () => {
      const up = await Deno.connect({ transport: "unix", path });
      await Promise.all([pump(conn, up), pump(up, conn)]);
      for (const c of [conn, up]) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    })();
  }
}

function nodeHttp(port: number) {
  const server = http.createServer({
    headersTimeout: 10_000,
    requestTimeout: 60_000,
    keepAliveTimeout: 5_000,
  }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const method = req.method ?? "GET";
      const response = await app.fetch(
        new Request(`http://${hostname}${req.url}`, {
          method,
          headers: req.headers as Record<string, string>,
          body: method === "GET" || method === "HEAD"
            ? undefined
            : Buffer.concat(chunks),
        }),
      );
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
  });
  server.listen(port, hostname, () => {
    const addr = server.address();
    say(typeof addr === "object" && addr ? addr.port : port);
  });
}

if (import.meta.main) {
  const front = Deno.args[0] as Front;
  const port = Number(Deno.args[1] ?? 0);
  if (front === "deno-serve") {
    Deno.serve({ hostname, port, onListen: (a) => say(a.port) }, app.fetch);
  } else if (front === "guarded") {
    say(listenGuarded(app.fetch, hostname, port));
  } else if (front === "proxy") {
    await proxy(port);
  } else if (front === "node-http") {
    nodeHttp(port);
  } else {
    console.error(`Unknown front "${front}": use ${FRONTS.join(", ")}`);
    Deno.exit(2);
  }
}
