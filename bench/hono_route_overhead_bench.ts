/**
 * What the way a route is mounted costs each request, in Hono alone: the
 * webhook route as it was (an access log middleware on every route, the
 * listener's app with its own `onError`, which Hono wraps around each of
 * its routes when mounted, and a `describeRoute` middleware before the
 * handler) against as it is now (the access log around the app's fetch,
 * refusals counted inside the handler, the description on the handler).
 * Each iteration makes its Request and answers it through `app.fetch`.
 *
 * Run: deno bench bench/hono_route_overhead_bench.ts
 */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { documented } from "../components/openapi/documented.ts";

const DOC = describeRoute({ summary: "Send event items" });
const SLOW_MS = 1000;
let logged = 0;

function before(): Hono {
  const app = new Hono();
  app.use(async (c, next) => {
    const start = performance.now();
    await next();
    if (c.res.status >= 400 || performance.now() - start > SLOW_MS) logged++;
  });
  app.onError((_err, c) => c.text("refused", 400));
  const listener = new Hono();
  listener.onError((err) => {
    throw err;
  });
  listener.post("/events/:tenant/:event", DOC, (c) => c.json({ accepted: 1 }));
  app.route("/", listener);
  return app;
}

function after(): Hono {
  const app = new Hono();
  app.onError((_err, c) => c.text("refused", 400));
  const listener = new Hono();
  listener.post(
    "/events/:tenant/:event",
    documented(
      DOC,
      (c) =>
        Promise.resolve(c.json({ accepted: 1 })).catch((err) => {
          throw err;
        }),
    ),
  );
  app.route("/", listener);
  const dispatch = app.fetch;
  app.fetch = async (request, ...rest) => {
    const start = performance.now();
    const res = await dispatch(request, ...rest);
    if (res.status >= 400 || performance.now() - start > SLOW_MS) logged++;
    return res;
  };
  return app;
}

const was = before();
const now = after();
const request = () =>
  new Request("http://127.0.0.1/events/acme/ping", { method: "POST" });

Deno.bench("before: middleware, onError, describeRoute", {
  baseline: true,
}, async () => {
  await was.fetch(request());
});
Deno.bench("after: around fetch, in the handler, on the handler", async () => {
  await now.fetch(request());
});
addEventListener("unload", () => {
  if (logged > 0) console.error(`${logged} requests logged`);
});
