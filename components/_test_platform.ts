/** For component tests: the platform's parts on an in-memory KV, served through `app.request`. */
import {
  createPlatform,
  type PlatformOptions,
  type PlatformParts,
} from "./platform.ts";

export interface TestPlatform extends PlatformParts {
  kv: Deno.Kv;
  /** Starts the background work (definition stream, executor). */
  start(): void;
  close(): Promise<void>;
}

export async function testPlatform(
  options: Omit<PlatformOptions, "kv"> = {},
): Promise<TestPlatform> {
  const kv = await Deno.openKv(":memory:");
  const ctrl = new AbortController();
  const parts = createPlatform({ kv, ...options }, ctrl.signal);
  let running: Promise<void> | undefined;
  return {
    ...parts,
    kv,
    start: () => {
      running ??= parts.run(ctrl.signal);
    },
    close: async () => {
      ctrl.abort();
      await running;
      parts.pool?.close();
      kv.close();
    },
  };
}

export const examples = new URL("../examples/greet/", import.meta.url);

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
