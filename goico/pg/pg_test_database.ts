/**
 * PostgreSQL for tests: the server in JOBICO_TEST_PG (`deno task test`
 * starts one, see scripts/pg_cluster.ts), or else a cluster of the test
 * process's own, started at first use and stopped when the process ends.
 * Each test takes a new, empty database of its own.
 *
 * @example
 * ```ts
 * const PG = await pgTestUrl();
 * Deno.test({ name: "on PostgreSQL", ignore: !PG, fn: async () => {
 *   const kv = await openPgKv(await pgTestDatabase());
 *   // ...
 *   await kv.closed();
 * } });
 * ```
 */
import postgres from "postgres";
import { findPgBin, startPgCluster, stopPgClusterSync } from "./pg_cluster.ts";

let server: Promise<string | undefined> | undefined;

async function startOwn(): Promise<string | undefined> {
  try {
    const bin = await findPgBin();
    const cluster = await startPgCluster();
    globalThis.addEventListener(
      "unload",
      () => stopPgClusterSync(cluster.dir, bin!),
    );
    return cluster.url;
  } catch (err) {
    if (Deno.env.get("JOBICO_REQUIRE_PG") === "1") throw err;
    console.warn(
      `No PostgreSQL for the tests, those on it are skipped: ${
        (err as Error).message
      }`,
    );
    return undefined;
  }
}

/**
 * The server tests use (a URL of its `postgres` database), or undefined
 * when there is none and none could be started (tests on it are skipped).
 */
export function pgTestUrl(): Promise<string | undefined> {
  server ??= Deno.env.get("JOBICO_TEST_PG")
    ? Promise.resolve(Deno.env.get("JOBICO_TEST_PG"))
    : startOwn();
  return server;
}

/** A new, empty database on the tests' server; its URL. */
export async function pgTestDatabase(): Promise<string> {
  const url = await pgTestUrl();
  if (!url) throw new Error("No PostgreSQL for the tests (see pgTestUrl)");
  const name = `t_${crypto.randomUUID().replaceAll("-", "")}`;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`create database ${name}`);
  } finally {
    await sql.end();
  }
  const at = new URL(url);
  at.pathname = `/${name}`;
  return at.toString();
}
