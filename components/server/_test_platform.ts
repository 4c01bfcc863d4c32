/**
 * For component tests: the platform's parts on an in-memory KV, served
 * through `app.request`. Requests that carry no Authorization header are
 * sent with the admin token, so tests of a route's own behaviour need not
 * repeat it; tests of authentication set their own header.
 */
import { Hono } from "hono";
import {
  createPlatform,
  type PlatformOptions,
  type PlatformParts,
} from "../platform.ts";

export interface TestPlatform extends PlatformParts {
  kv: Deno.Kv;
  /** Starts the background work (definition stream, executor). */
  start(): void;
  close(): Promise<void>;
}

/** The admin token of test platforms unless a test sets its own. */
export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789";

export async function testPlatform(
  options: Omit<PlatformOptions, "kv" | "adminToken"> & {
    adminToken?: string;
  } = {},
): Promise<TestPlatform> {
  const kv = await Deno.openKv(":memory:");
  const ctrl = new AbortController();
  const adminToken = options.adminToken ?? TEST_ADMIN_TOKEN;
  const parts = createPlatform({ kv, ...options, adminToken }, ctrl.signal);
  const app = new Hono();
  app.all("*", (c) => {
    const req = new Request(c.req.raw);
    if (!req.headers.has("authorization")) {
      req.headers.set("authorization", `Bearer ${adminToken}`);
    }
    return parts.app.fetch(req);
  });
  let running: Promise<void> | undefined;
  return {
    ...parts,
    app,
    kv,
    start: () => {
      running ??= parts.run(ctrl.signal);
    },
    close: async () => {
      ctrl.abort();
      await running;
      parts.pool?.close();
      await parts.executions.settled();
      kv.close();
    },
  };
}

export const examples = new URL("../../examples/greet/", import.meta.url);

/** The files the greet example's package uses. */
export const GREET_FILES = [
  "greet.wasm",
  "audit.wasm",
  "greet.schema.json",
  "result.schema.json",
];

/** Uploads the greet example's files for tenant "demo". */
export async function uploadGreetFiles(p: PlatformParts): Promise<void> {
  for (const name of GREET_FILES) {
    await p.repo.put(
      "demo",
      name,
      await Deno.readFile(new URL(name, examples)),
    );
  }
}
