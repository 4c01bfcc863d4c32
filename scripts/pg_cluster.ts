/**
 * A PostgreSQL cluster of its own (see goico/pg/pg_cluster.ts) from the
 * command line:
 *
 *   deno run -A scripts/pg_cluster.ts run -- deno test ...
 *       starts a cluster, runs the command with JOBICO_TEST_PG set to its
 *       URL, stops it, exits with the command's code (`deno task test`)
 *   deno run -A scripts/pg_cluster.ts start [--durable]
 *       starts one and prints `export JOBICO_STORE=<its URL>` and how to
 *       stop it, leaves it running (`eval "$(...)"` sets the variable)
 *   deno run -A scripts/pg_cluster.ts stop DIR
 *       stops the cluster started in DIR and removes DIR
 */
import {
  type PgCluster,
  startPgCluster,
  stopPgCluster,
} from "@jobico/goico/testing";

async function main(args: string[]): Promise<number> {
  const log = (line: string) => console.error(`pg_cluster: ${line}`);
  const [command, ...rest] = args;
  if (command === "start") {
    const c = await startPgCluster({
      durable: rest.includes("--durable"),
      log,
    });
    // `eval "$(... start)"` sets it in the shell.
    console.log(`export JOBICO_STORE=${c.url}`);
    console.log(
      `# stop it with: deno run -A scripts/pg_cluster.ts stop ${c.dir}`,
    );
    return 0;
  }
  if (command === "stop" && rest[0]) {
    await stopPgCluster(rest[0]);
    return 0;
  }
  if (command === "run") {
    const cmd = rest[0] === "--" ? rest.slice(1) : rest;
    if (cmd.length === 0) {
      console.error("pg_cluster run: name the command to run after --");
      return 2;
    }
    let cluster: PgCluster | undefined;
    const childEnv: Record<string, string> = {};
    if (Deno.env.get("JOBICO_TEST_PG")) {
      log(`using JOBICO_TEST_PG`);
    } else {
      try {
        cluster = await startPgCluster({ log });
        childEnv.JOBICO_TEST_PG = cluster.url;
      } catch (err) {
        log(
          `no PostgreSQL, the tests on it will be skipped: ${
            (err as Error).message
          }`,
        );
      }
    }
    try {
      const child = new Deno.Command(cmd[0], {
        args: cmd.slice(1),
        env: childEnv,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      const stop = () => child.kill("SIGTERM");
      Deno.addSignalListener("SIGINT", stop);
      const status = await child.status;
      Deno.removeSignalListener("SIGINT", stop);
      return status.code;
    } finally {
      await cluster?.stop();
    }
  }
  console.error(
    "usage: pg_cluster.ts run -- <command...> | start [--durable] | stop <dir>",
  );
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
