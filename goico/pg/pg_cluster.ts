/**
 * A PostgreSQL cluster of its own, for tests, benchmarks and trying the
 * platform on several nodes: initdb in a temporary directory, started on a
 * free port (TCP on 127.0.0.1, its unix socket in the same directory),
 * stopped and removed after. scripts/pg_cluster.ts is its command line.
 *
 * PostgreSQL's binaries are looked for in /usr/lib/postgresql/<version>/bin
 * and on PATH. When they are missing and the script runs as root with
 * apt-get, it installs Debian's `postgresql` (without the cluster the
 * package would create and start). initdb refuses to run as root, so as
 * root the cluster runs as the `postgres` user, which owns its directory.
 */

/** How {@linkcode startPgCluster} sets the cluster up. */
export interface PgClusterOptions {
  /**
   * Whether commits reach the disk before they are acknowledged (fsync,
   * synchronous_commit, full_page_writes on). Tests run faster without;
   * benchmarks compare stores with it on.
   *
   * @default {false}
   */
  durable?: boolean;
  /**
   * Connections the server accepts.
   *
   * @default {200}
   */
  maxConnections?: number;
  /**
   * Told what happens (installing, starting).
   *
   * @default {() => {}}
   */
  log?: (line: string) => void;
}

/** A running cluster. */
export interface PgCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  url: string;
  port: number;
  /** The data directory (also holds the socket and the server's log). */
  dir: string;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

// Added to the inherited environment (read at run, not at import: a
// program that imports goico/testing.ts needs no env permission).
const env = { DEBIAN_FRONTEND: "noninteractive" };

async function run(
  cmd: string,
  args: string[],
  quiet = true,
): Promise<{ ok: boolean; out: string }> {
  try {
    const res = await new Deno.Command(cmd, {
      args,
      env,
      stdout: quiet ? "piped" : "inherit",
      stderr: quiet ? "piped" : "inherit",
    }).output();
    const text = new TextDecoder();
    return {
      ok: res.success,
      out: quiet ? text.decode(res.stdout) + text.decode(res.stderr) : "",
    };
  } catch (err) {
    return { ok: false, out: String(err) };
  }
}

/** The directory holding initdb and pg_ctl, or undefined. */
export async function findPgBin(): Promise<string | undefined> {
  try {
    const versions: number[] = [];
    for await (const e of Deno.readDir("/usr/lib/postgresql")) {
      if (/^\d+$/.test(e.name)) versions.push(Number(e.name));
    }
    for (const v of versions.sort((a, b) => b - a)) {
      const bin = `/usr/lib/postgresql/${v}/bin`;
      if (await exists(`${bin}/initdb`)) return bin;
    }
  } catch { /* no Debian layout */ }
  const which = await run("sh", ["-c", "command -v initdb"]);
  if (which.ok && which.out.trim()) {
    return which.out.trim().replace(/\/initdb$/, "");
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const isRoot = () => Deno.uid() === 0;

/**
 * PostgreSQL's binaries, installed with apt-get when missing and allowed
 * (root with apt-get).
 *
 * @throws {Error} naming what to install when they are missing and cannot be installed
 */
export async function ensurePostgres(
  log: (line: string) => void = () => {},
): Promise<string> {
  const found = await findPgBin();
  if (found) return found;
  const hint =
    "install PostgreSQL (Debian/Ubuntu: sudo apt-get install -y postgresql)";
  if (!isRoot() || !(await run("sh", ["-c", "command -v apt-get"])).ok) {
    throw new Error(`PostgreSQL's initdb was not found: ${hint}`);
  }
  log("PostgreSQL not found: installing it with apt-get");
  // The package would create a cluster of its own and try to start it.
  const conf = "/etc/postgresql-common/createcluster.conf";
  if (!(await exists(conf))) {
    await Deno.mkdir("/etc/postgresql-common", { recursive: true });
    await Deno.writeTextFile(conf, "create_main_cluster = false\n");
  }
  const install = await run("apt-get", ["install", "-y", "postgresql"]);
  if (!install.ok) {
    const update = await run("apt-get", ["update"]);
    const again = update.ok &&
      (await run("apt-get", ["install", "-y", "postgresql"])).ok;
    if (!again) {
      throw new Error(
        `apt-get could not install postgresql: ${install.out.slice(-500)}`,
      );
    }
  }
  const bin = await findPgBin();
  if (!bin) throw new Error(`PostgreSQL was installed but initdb is missing`);
  return bin;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Runs a PostgreSQL binary as the cluster's owner. */
function asOwner(
  bin: string,
  args: string[],
): Promise<{ ok: boolean; out: string }> {
  return isRoot()
    ? run("runuser", ["-u", "postgres", "--", bin, ...args])
    : run(bin, args);
}

/** Starts a cluster in a new temporary directory. */
export async function startPgCluster(
  options: PgClusterOptions = {},
): Promise<PgCluster> {
  const log = options.log ?? (() => {});
  const bin = await ensurePostgres(log);
  const dir = await Deno.makeTempDir({ prefix: "jobico-pg-" });
  if (isRoot()) {
    const owner = await run("chown", ["postgres:postgres", dir]);
    if (!owner.ok) {
      await Deno.remove(dir, { recursive: true });
      throw new Error(`Cannot give ${dir} to the postgres user: ${owner.out}`);
    }
  }
  const data = `${dir}/data`;
  const init = await asOwner(`${bin}/initdb`, [
    "-D",
    data,
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
  ]);
  if (!init.ok) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`initdb failed: ${init.out.slice(-1000)}`);
  }
  const durable = options.durable ?? false;
  const settings = [
    `listen_addresses = '127.0.0.1'`,
    `unix_socket_directories = '${dir}'`,
    `max_connections = ${options.maxConnections ?? 200}`,
    `shared_buffers = '128MB'`,
    // Deadlocks among atomics are retried; find them soon.
    `deadlock_timeout = '100ms'`,
    ...(durable ? [] : [
      `fsync = off`,
      `synchronous_commit = off`,
      `full_page_writes = off`,
    ]),
  ];
  await Deno.writeTextFile(
    `${data}/postgresql.conf`,
    "\n" + settings.join("\n") + "\n",
    { append: true },
  );
  let lastError = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const start = await asOwner(`${bin}/pg_ctl`, [
      "-D",
      data,
      "-l",
      `${dir}/server.log`,
      "-o",
      `-p ${port}`,
      "-w",
      "-t",
      "60",
      "start",
    ]);
    if (start.ok) {
      log(`PostgreSQL started on port ${port} in ${dir}`);
      return {
        url: `postgres://postgres@127.0.0.1:${port}/postgres`,
        port,
        dir,
        stop: () => stopPgCluster(dir),
      };
    }
    lastError = start.out +
      (await Deno.readTextFile(`${dir}/server.log`).catch(() => ""))
        .slice(-1000);
  }
  await Deno.remove(dir, { recursive: true });
  throw new Error(`PostgreSQL did not start: ${lastError}`);
}

/** Stops the cluster started in `dir` and removes the directory. */
export async function stopPgCluster(dir: string): Promise<void> {
  const bin = await findPgBin();
  if (bin && (await exists(`${dir}/data/postmaster.pid`))) {
    await asOwner(`${bin}/pg_ctl`, [
      "-D",
      `${dir}/data`,
      "-m",
      "fast",
      "-w",
      "stop",
    ]);
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/**
 * Stops the cluster started in `dir` without waiting on promises (for an
 * `unload` handler), and removes the directory.
 */
export function stopPgClusterSync(dir: string, bin: string): void {
  const args = ["-D", `${dir}/data`, "-m", "immediate", "-w", "stop"];
  try {
    new Deno.Command(isRoot() ? "runuser" : `${bin}/pg_ctl`, {
      args: isRoot()
        ? ["-u", "postgres", "--", `${bin}/pg_ctl`, ...args]
        : args,
      stdout: "null",
      stderr: "null",
    }).outputSync();
    Deno.removeSync(dir, { recursive: true });
  } catch { /* already gone */ }
}
