/**
 * For the tests of the listener's steps: the greet example deployed for
 * tenant "demo" on a test platform (a real in-memory KV, real packages and
 * compiled schemas), its event's route, and a Hono app that runs a few
 * steps behind the variables a test gives them, with the platform's error
 * mapping (problem+json).
 */
import { Hono } from "hono";
import { problemResponse } from "@jobico/goico";
import type { EventAuth } from "../model/job_package.ts";
import { Authenticator } from "../http/authenticator.ts";
import { pipeline, type Step } from "../http/pipeline.ts";
import type { EventRoute } from "../packages/definitions.ts";
import {
  examples,
  TEST_ADMIN_TOKEN,
  type TestPlatform,
  testPlatform,
  uploadGreetFiles,
} from "../server/_test_platform.ts";
import type { ListenerEnv, ListenerVariables } from "./listener_env.ts";
import { WebhookAuth } from "./webhook_auth.ts";

export interface StepWorld extends TestPlatform {
  /** Checks credentials as the listener does. */
  auth: WebhookAuth;
  /** The route of demo's "greet" event. */
  route: EventRoute;
  /** demo's token. */
  token: string;
  /** Another tenant's token ("other"). */
  otherToken: string;
}

/**
 * A platform (listener only, no executor) with the greet example deployed
 * for "demo", its "greet" event authenticated as `auth` says.
 */
export async function stepWorld(
  options: { auth?: EventAuth; maxQueueDepth?: number } = {},
): Promise<StepWorld> {
  const p = await testPlatform({
    components: ["listener"],
    maxQueueDepth: options.maxQueueDepth,
  });
  const { token } = await p.tenants.create("demo");
  const { token: otherToken } = await p.tenants.create("other");
  await uploadGreetFiles(p);
  let yaml = await Deno.readTextFile(new URL("job.yaml", examples));
  if (options.auth) {
    yaml = yaml.replace(
      "      runtime: greet-c\n",
      `      runtime: greet-c\n      auth: ${options.auth}\n`,
    );
  }
  await p.store.deploy(yaml);
  const route = await p.definitions.route("demo", "greet");
  if (!route) throw new Error("greet did not deploy");
  const auth = new WebhookAuth({
    authenticator: new Authenticator(TEST_ADMIN_TOKEN, p.tenants),
    tenants: p.tenants,
  });
  return { ...p, auth, route, token, otherToken };
}

/**
 * An app that answers `POST /events/:tenant/:event` with `steps`, run
 * after a step that sets `vars`; errors become problem+json as on the
 * platform.
 */
export function stepApp(
  vars: Partial<ListenerVariables>,
  ...steps: Step<ListenerEnv>[]
): Hono<ListenerEnv> {
  const app = new Hono<ListenerEnv>();
  app.onError((err, c) => problemResponse(err, c.req.path));
  const preset: Step<ListenerEnv> = function given(c, next) {
    for (const [name, value] of Object.entries(vars)) {
      c.set(name as keyof ListenerVariables, value as never);
    }
    return next();
  };
  app.post("/events/:tenant/:event", pipeline(preset, ...steps));
  return app;
}

/** What {@linkcode seen} answers: the variables the steps before set. */
export interface Seen {
  knownTenant?: string;
  route?: { tenant: string; package: string; version: number; event: string };
  bodyBytes?: number;
  replay?: { key: Deno.KvKey; expireIn: number };
  idempotency?: { key: Deno.KvKey; expireIn: number };
  body?: unknown;
  items?: unknown[];
}

/** A last step that answers 200 with what the steps before set. */
export const seen: Step<ListenerEnv> = function seen(c) {
  const route = c.get("route");
  const out: Seen = {
    knownTenant: c.get("knownTenant"),
    route: route && {
      tenant: route.tenant,
      package: route.package,
      version: route.version,
      event: route.event.id,
    },
    bodyBytes: c.get("bodyBytes")?.length,
    replay: c.get("replay"),
    idempotency: c.get("idempotency"),
    body: c.get("body"),
    items: c.get("items"),
  };
  return c.json(out);
};

/** `POST path` to `app` with `body` (a string as is, else JSON) and `headers`. */
export async function postTo(
  app: Hono<ListenerEnv>,
  body: unknown,
  headers: Record<string, string> = {},
  path = "/events/demo/greet",
): Promise<Response> {
  return await app.request(path, {
    method: "POST",
    headers,
    body: typeof body === "string" || body instanceof Uint8Array
      ? body as BodyInit
      : JSON.stringify(body),
  });
}
