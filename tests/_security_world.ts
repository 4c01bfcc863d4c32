/**
 * The world the security tests attack: a real platform with two tenants
 * made through the API, "victim" and "attacker", each with the greet
 * example deployed and executed. The victim also has a package whose
 * every name is its own ("victim-vault": queue, event, module, schema)
 * and whose event traps with no retries, so it holds a dead letter.
 */
import { GREET_FILES } from "../components/server/_test_platform.ts";
import { sha256Hex } from "@jobico/goico";
import type { Execution } from "../components/executions/execution.ts";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { type Harness, startHarness } from "./_harness.ts";
import { kvDiff, KvReadLog, kvSnapshot } from "./_kv_audit.ts";

const examples = new URL("../examples/greet/", import.meta.url);

/** What the tests know of a tenant. */
export interface TenantFixture {
  id: string;
  token: string;
  /** Valid values of the routes' path parameters. */
  params: Record<string, string>;
  /** The bytes of the file `params.name`. */
  file: Uint8Array;
  /** The names of a valid one-event package of the tenant. */
  names: PackageNames;
  /** Ids of its dead letters in `params.queue`. */
  deadIds: string[];
}

export interface World {
  h: Harness;
  reads: KvReadLog;
  victim: TenantFixture;
  attacker: TenantFixture;
  /** Strings of the victim no other principal may ever see. */
  victimMarkers: string[];
}

export const bearer = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
});

/** The greet example's package for `tenant`, with `auth` on its greet event. */
export async function greetYaml(
  tenant: string,
  auth?: string,
): Promise<string> {
  let yaml = await Deno.readTextFile(new URL("job.yaml", examples));
  yaml = yaml.replace("tenant: demo", `tenant: ${tenant}`);
  if (auth) {
    yaml = yaml.replace(
      "      runtime: greet-c\n",
      `      runtime: greet-c\n      auth: ${auth}\n`,
    );
  }
  return yaml;
}

/** The names in a one-event package. */
export interface PackageNames {
  tenant: string;
  id: string;
  queue: string;
  event: string;
  runtime: string;
  module: string;
  schema: string;
}

/** A package of one event with these names, each written as a YAML double-quoted scalar. */
export function packageYaml(n: PackageNames): string {
  const q = JSON.stringify;
  return [
    `id: ${q(n.id)}`,
    `tenant: ${q(n.tenant)}`,
    `queues: [{id: ${q(n.queue)}}]`,
    "jobs:",
    `  - event: {id: ${q(n.event)}, schema: {id: s, schemaref: ${
      q(n.schema)
    }}, supplierqueue: ${q(n.queue)}, runtime: ${q(n.runtime)}}`,
    "runtimes:",
    `  - {id: ${q(n.runtime)}, moduleref: ${q(n.module)}, retries: 0}`,
    "",
  ].join("\n");
}

const VAULT: PackageNames = {
  tenant: "victim",
  id: "victim-vault",
  queue: "victim-vault-q",
  event: "victim-crash",
  runtime: "victim-trap",
  module: "victim-trap.wasm",
  schema: "victim-any.json",
};

async function ok(res: Promise<Response>, what: string): Promise<unknown> {
  const r = await res;
  const text = await r.text();
  if (!r.ok) throw new Error(`${what}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Creates a tenant through the API, uploads the greet example and deploys it. */
export async function createGreetTenant(
  h: Harness,
  id: string,
  auth?: string,
): Promise<string> {
  const { token } = await ok(
    h.api("/api/v1/tenants", { method: "POST", body: JSON.stringify({ id }) }),
    `creating ${id}`,
  ) as { token: string };
  for (const name of GREET_FILES) {
    await h.upload(id, name, await Deno.readFile(new URL(name, examples)));
  }
  await h.deploy(await greetYaml(id, auth));
  return token;
}

/**
 * Waits until every queue is drained and retired and the store stopped
 * changing: then a hostile request is the only thing that could write.
 */
export async function settle(h: Harness): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = await kvSnapshot(h.kv);
  let quiet = 0;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    const now = await kvSnapshot(h.kv);
    const busy = [...now.keys()].some((k) =>
      /^string:queue \/ string:(active|ready|inflight|delayed) /.test(k)
    );
    quiet = !busy && kvDiff(last, now).length === 0 ? quiet + 1 : 0;
    if (quiet >= 3) return;
    last = now;
  }
  throw new Error("The platform never settled: queues still busy");
}

export async function startWorld(): Promise<World> {
  const reads = new KvReadLog();
  const h = await startHarness({
    wrapKv: (kv) => reads.wrap(kv),
    workers: 2,
    retryBaseMs: 20,
  });
  try {
    const victimToken = await createGreetTenant(h, "victim");
    const attackerToken = await createGreetTenant(h, "attacker");
    const trap = await compileWat("trap");
    await h.upload("victim", "victim-trap.wasm", trap);
    await h.upload("victim", "victim-any.json", "{}");
    await h.deploy(packageYaml(VAULT));

    const sent = [
      ...await h.send("victim", "greet", [{ name: "VictimSecretAda" }]),
      ...await h.send("victim", "victim-crash", [{ s: "VictimSecretCrash" }]),
    ];
    await h.send("attacker", "greet", [{ name: "Mallory" }]);
    const done = (events: string[]) => (e: Execution[]) =>
      events.every((ev) => e.some((x) => x.event === ev));
    const victimExecs = await h.waitFor(
      "victim",
      done(["greet", "greeted", "victim-crash"]),
    );
    await h.waitFor("attacker", done(["greet", "greeted"]));
    await settle(h);

    const dead = await ok(
      h.api("/api/v1/tenants/victim/queues/victim-vault-q/dead"),
      "dead letters",
    ) as { dead: { id: string }[] };
    if (dead.dead.length !== 1) throw new Error("The vault has no dead letter");
    const { secret } = await ok(
      h.api("/api/v1/tenants/victim/webhook-secret"),
      "webhook secret",
    ) as { secret: string };

    const victim: TenantFixture = {
      id: "victim",
      token: victimToken,
      params: {
        tenant: "victim",
        id: "victim-vault",
        queue: "victim-vault-q",
        name: "victim-trap.wasm",
        event: "greet",
      },
      file: trap,
      names: VAULT,
      deadIds: dead.dead.map((d) => d.id),
    };
    const attacker: TenantFixture = {
      id: "attacker",
      token: attackerToken,
      params: {
        tenant: "attacker",
        id: "greet",
        queue: "greetings",
        name: "greet.wasm",
        event: "greet",
      },
      file: await Deno.readFile(new URL("greet.wasm", examples)),
      names: {
        tenant: "attacker",
        id: "attacker-pkg",
        queue: "attacker-q",
        event: "attacker-ev",
        runtime: "attacker-rt",
        module: "greet.wasm",
        schema: "greet.schema.json",
      },
      deadIds: ["0000000000000000000"],
    };
    // Names and hashes only the victim has: a hostile answer that holds one
    // (and whose request did not) shows the victim's data.
    const victimMarkers = [
      victimToken,
      secret,
      "whsec_",
      "victim",
      "VictimSecret",
      "victim-crash",
      "victim-trap",
      "victim-any.json",
      await sha256Hex(trap),
      await sha256Hex(new TextEncoder().encode("{}")),
      ...sent,
      ...victimExecs.map((e) => e.id),
      ...victim.deadIds,
    ];
    return { h, reads, victim, attacker, victimMarkers };
  } catch (err) {
    await h.close();
    throw err;
  }
}
