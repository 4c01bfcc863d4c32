/**
 * Test harness: the real platform on port 0 over a store (an in-memory
 * Deno KV, or PgKv on a new database of the tests' PostgreSQL), and
 * helpers to talk to it over HTTP like a client would. `storeTest`
 * registers a test once for each store (test files import it as `test`,
 * which deno fmt lays out as it lays out `Deno.test`):
 *
 * ```ts
 * import { startHarness, storeTest as test } from "./_harness.ts";
 * test("an event runs", async (store) => {
 *   const h = await startHarness({ store });
 *   // ...
 * });
 * ```
 */
import { openPgKv } from "@jobico/goico";
import { pgTestDatabase, pgTestUrl } from "@jobico/goico/testing";
import {
  type Platform,
  type ServeOptions,
  startPlatform,
} from "../components/platform.ts";
import type { Execution } from "../components/executions/execution.ts";
import { TEST_ADMIN_TOKEN } from "../components/server/_test_platform.ts";
import { deployGreetOver } from "./_deploy_over_http.ts";

/** The stores the platform runs on. */
export type TestStore = "kv" | "postgres";

const STORE_NAMES: Record<TestStore, string> = {
  kv: "Deno KV",
  postgres: "PostgreSQL",
};

/** The tests' PostgreSQL (undefined: none, tests on it are skipped). */
const PG = await pgTestUrl();

/**
 * Registers `fn` as one test for each store, named `name [Deno KV]` and
 * `name [PostgreSQL]` (skipped when there is no PostgreSQL).
 */
export function storeTest(
  name: string,
  fn: (store: TestStore) => Promise<void>,
): void {
  for (const store of ["kv", "postgres"] as const) {
    Deno.test({
      name: `${name} [${STORE_NAMES[store]}]`,
      ignore: store === "postgres" && !PG,
      fn: () => fn(store),
    });
  }
}

/** A new, empty store of the kind named, and how to close it. */
export async function openTestStore(
  store: TestStore,
): Promise<{ kv: Deno.Kv; close(): Promise<void> }> {
  if (store === "postgres") {
    const kv = await openPgKv(await pgTestDatabase());
    return { kv, close: () => kv.closed() };
  }
  const kv = await Deno.openKv(":memory:");
  return { kv, close: () => Promise.resolve(kv.close()) };
}

export interface Harness {
  platform: Platform;
  kv: Deno.Kv;
  url: string;
  adminToken: string;
  /** fetch against the platform, with the token when one is set. */
  api(path: string, init?: RequestInit): Promise<Response>;
  upload(
    tenant: string,
    name: string,
    bytes: Uint8Array | string,
  ): Promise<void>;
  deploy(
    yaml: string,
  ): Promise<{ tenant: string; id: string; version: number }>;
  send(tenant: string, event: string, items: unknown[]): Promise<string[]>;
  /** Polls the executions until `pred` holds for the list (newest first); fails after 10 s. */
  waitFor(
    tenant: string,
    pred: (execs: Execution[]) => boolean,
  ): Promise<Execution[]>;
  close(): Promise<void>;
}

/**
 * Starts the platform on port 0; `options` are passed on (limits,
 * workers...). `h.api` sends the admin token unless a request sets its own
 * Authorization header.
 */
export async function startHarness(
  options: Omit<ServeOptions, "kv" | "port" | "adminToken"> & {
    adminToken?: string;
    /**
     * What the platform gets instead of the KV, e.g. a proxy that records
     * reads; `h.kv` stays the KV itself.
     */
    wrapKv?: (kv: Deno.Kv) => Deno.Kv;
    /**
     * What the platform stores into.
     *
     * @default {"kv"} (an in-memory Deno KV)
     */
    store?: TestStore;
  } = {},
): Promise<Harness> {
  const { wrapKv, store, ...serveOptions } = options;
  const opened = await openTestStore(store ?? "kv");
  const kv = opened.kv;
  const adminToken = options.adminToken ?? TEST_ADMIN_TOKEN;
  const platform = await startPlatform({
    ...serveOptions,
    adminToken,
    kv: wrapKv ? wrapKv(kv) : kv,
    port: 0,
  });
  const api = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("authorization")) {
      headers.set("authorization", `Bearer ${adminToken}`);
    }
    return fetch(platform.url + path, { ...init, headers });
  };
  const ok = async (res: Response, what: string) => {
    const body = await res.text();
    if (!res.ok) throw new Error(`${what}: ${res.status} ${body}`);
    return body ? JSON.parse(body) : null;
  };
  const h: Harness = {
    platform,
    kv,
    url: platform.url,
    adminToken,
    api,
    upload: async (tenant, name, bytes) => {
      const body = typeof bytes === "string"
        ? new TextEncoder().encode(bytes)
        : bytes;
      await ok(
        await api(`/api/v1/tenants/${tenant}/files/${name}`, {
          method: "PUT",
          body: body as Uint8Array<ArrayBuffer>,
        }),
        `upload ${name}`,
      );
    },
    deploy: async (yaml) =>
      await ok(
        await api("/api/v1/packages", {
          method: "POST",
          body: yaml,
          headers: { "content-type": "application/yaml" },
        }),
        "deploy",
      ),
    send: async (tenant, event, items) =>
      (await ok(
        await api(`/events/${tenant}/${event}`, {
          method: "POST",
          body: JSON.stringify({ data: items }),
        }),
        `send ${event}`,
      )).ids,
    waitFor: async (tenant, pred) => {
      const deadline = Date.now() + 10_000;
      let last: Execution[] = [];
      while (Date.now() < deadline) {
        last = (await ok(
          await api(`/api/v1/tenants/${tenant}/executions?limit=1000`),
          "executions",
        )).executions;
        if (pred(last)) return last;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(
        `Executions never matched; last seen: ${
          JSON.stringify(last.map((e) => [e.event, e.status]))
        }`,
      );
    },
    close: async () => {
      await platform.close();
      await opened.close();
    },
  };
  return h;
}

/** Uploads the greet example's modules and schemas and deploys its package. */
export function deployGreet(h: Harness): Promise<void> {
  return deployGreetOver(h.api);
}
