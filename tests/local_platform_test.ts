/**
 * A new user's CLI and the platform they started, each in its own process,
 * as they would run them: the CLI finds the local platform from any
 * directory (its URL and admin token), honours JOBICO_DATA and JOBICO_PORT,
 * takes relative paths from the directory the command was typed in
 * (`deno task jobico` runs in the project's folder), and works the same
 * installed globally. The admin token file always holds the token the
 * platform takes, JOBICO_ADMIN_TOKEN included.
 */
import assert from "node:assert/strict";
import { RUN_CLI, RUN_MAIN } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The Deno cache the tests run with, so that the subprocesses need no download. */
function denoDir(): string {
  const env = (n: string) => Deno.env.get(n);
  return env("DENO_DIR") ||
    `${env("XDG_CACHE_HOME") || `${env("HOME")}/.cache`}/deno`;
}

/** A user's machine: a home, a state directory, directories to work in. */
async function machine(): Promise<{
  dir: string;
  /** The environment of a shell on it (no JOBICO_URL, no JOBICO_TOKEN). */
  env: Record<string, string>;
  close(): Promise<void>;
}> {
  const dir = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "jobico-user-" }),
  );
  await Deno.mkdir(`${dir}/home`);
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: `${dir}/home`,
    XDG_STATE_HOME: `${dir}/home/.local/state`,
    DENO_DIR: denoDir(),
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    // How the user's shell reaches the npm registry (a proxy, its CA), as
    // theirs would: `deno install` may fetch what the cache lacks.
    ...Object.fromEntries(
      NETWORK_ENV.flatMap((n) => {
        const v = Deno.env.get(n);
        return v === undefined ? [] : [[n, v]];
      }),
    ),
  };
  return {
    dir,
    env,
    close: () => Deno.remove(dir, { recursive: true }),
  };
}

interface Ran {
  code: number;
  out: string;
  err: string;
}

/** The settings of a shell that say how it reaches the network. */
const NETWORK_ENV = [
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
  "https_proxy",
  "http_proxy",
  "no_proxy",
  "NPM_CONFIG_REGISTRY",
];

/** Runs `command args` in `cwd` with exactly `env`. */
async function sh(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<Ran> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, out: text.decode(stdout), err: text.decode(stderr) };
}

/** `jobico ...` as `deno run cli/main.ts` in `cwd`. */
const jobico = (cwd: string, env: Record<string, string>, ...args: string[]) =>
  sh(Deno.execPath(), [...RUN_CLI, ...args], cwd, env);

/** `deno task jobico ...` typed in `cwd` (the project's deno.json named). */
const task = (cwd: string, env: Record<string, string>, ...args: string[]) =>
  sh(
    Deno.execPath(),
    ["task", "--quiet", "--config", `${ROOT}deno.json`, "jobico", ...args],
    cwd,
    env,
  );

/** `deno task dev` for `data`, on this user's machine. */
function startDev(
  env: Record<string, string>,
  more: Record<string, string>,
) {
  return spawnServer(RUN_MAIN, { ...env, ...more });
}

Deno.test("the CLI finds the platform last started from any directory, and says so", async () => {
  const m = await machine();
  const dev = await startDev(m.env, { JOBICO_DATA: `${m.dir}/proj/.jobico` });
  try {
    await Deno.mkdir(`${m.dir}/elsewhere/deep`, { recursive: true });
    const r = await jobico(
      `${m.dir}/elsewhere/deep`,
      m.env,
      "tenant",
      "create",
      "acme",
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Created tenant acme\n/);
    const config = await jobico(
      `${m.dir}/elsewhere`,
      m.env,
      "config",
      "--json",
    );
    const shown = JSON.parse(config.out);
    assert.deepEqual(shown.url, {
      value: dev.url,
      source: "local platform",
      from: `${m.dir}/proj/.jobico/url`,
    });
    assert.equal(shown.token.source, "admin token file");
    assert.equal(shown.token.from, `${m.dir}/proj/.jobico/admin-token`);
    // The state file names it, readable only by the user.
    const state = `${m.env.XDG_STATE_HOME}/jobico/platforms.json`;
    assert.equal((await Deno.stat(state)).mode! & 0o777, 0o600);
    assert.equal(
      JSON.parse(await Deno.readTextFile(state)).platforms[0].url,
      dev.url,
    );
  } finally {
    await dev.stop();
    await m.close();
  }
});

Deno.test("the CLI honours JOBICO_DATA and JOBICO_PORT as deno task dev does", async () => {
  const m = await machine();
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  // Started from the project folder with its own data directory and port;
  // the state file is elsewhere (another user's shell, a container).
  await Deno.mkdir(`${m.dir}/proj`);
  const dev = await startDev(m.env, {
    JOBICO_DATA: `${m.dir}/proj/data2`,
    JOBICO_PORT: String(port),
  });
  const noState = { ...m.env, XDG_STATE_HOME: `${m.dir}/other-state` };
  try {
    const env = { ...noState, JOBICO_DATA: "data2", JOBICO_PORT: String(port) };
    let r = await jobico(`${m.dir}/proj`, env, "tenant", "list", "--json");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { tenants: [] });
    // JOBICO_DATA alone: the URL it wrote.
    r = await jobico(
      `${m.dir}/proj`,
      { ...noState, JOBICO_DATA: "data2" },
      "status",
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`127\\.0\\.0\\.1:${port}`));
    // Without either, from elsewhere and no state: the default, refused.
    r = await jobico(m.dir, noState, "tenant", "list");
    assert.notEqual(r.code, 0);
  } finally {
    await dev.stop();
    await m.close();
  }
});

Deno.test("JOBICO_ADMIN_TOKEN is written to the admin token file the CLI and the README read", async () => {
  const m = await machine();
  const data = `${m.dir}/proj/.jobico`;
  try {
    // A first start generates a token into the file.
    let dev = await startDev(m.env, { JOBICO_DATA: data });
    const generated = (await Deno.readTextFile(`${data}/admin-token`)).trim();
    await dev.stop();
    // The README's own token: the file follows it.
    const own = "change-me-to-something-long";
    dev = await startDev(m.env, { JOBICO_DATA: data, JOBICO_ADMIN_TOKEN: own });
    try {
      assert.notEqual(generated, own);
      assert.equal(
        (await Deno.readTextFile(`${data}/admin-token`)).trim(),
        own,
      );
      const r = await jobico(m.dir, m.env, "tenant", "list", "--json");
      assert.equal(r.code, 0, r.err);
      // A file that does not hold the platform's token: the hint says so.
      await Deno.writeTextFile(
        `${data}/admin-token`,
        "jba_not_this_one_00000\n",
      );
      const refused = await jobico(m.dir, m.env, "tenant", "list");
      assert.equal(refused.code, 1);
      assert.match(
        refused.err,
        new RegExp(
          `hint: The platform at ${dev.url} does not take the admin token in ${data}/admin-token`,
        ),
      );
    } finally {
      await dev.stop();
    }
  } finally {
    await m.close();
  }
});

Deno.test("deno task jobico takes relative paths from the directory it is typed in", async () => {
  const m = await machine();
  const dev = await startDev(m.env, { JOBICO_DATA: `${m.dir}/proj/.jobico` });
  try {
    const sub = `${m.dir}/proj/schemas`;
    await Deno.mkdir(sub, { recursive: true });
    await Deno.writeTextFile(`${sub}/s.json`, '{"type": "object"}');
    let r = await task(sub, m.env, "upload-schema", "acme", "s.json");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Uploaded acme\/s\.json\n/);
    r = await task(sub, m.env, "upload-schema", "acme", "missing.json");
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      'error: File "missing.json" not found\n' +
        `hint: Check the path; it is relative to ${sub}\n`,
    );
  } finally {
    await dev.stop();
    await m.close();
  }
});

Deno.test("the README's quickstart runs as written from another directory, with deno task and installed globally", async () => {
  const m = await machine();
  const dev = await startDev(m.env, { JOBICO_DATA: `${m.dir}/repo/.jobico` });
  try {
    // A user's own folder holding a copy of the example.
    const work = `${m.dir}/work`;
    await Deno.mkdir(`${work}/examples/greet`, { recursive: true });
    for (
      const f of [
        "greet.wasm",
        "audit.wasm",
        "greet.schema.json",
        "result.schema.json",
        "job.yaml",
      ]
    ) {
      await Deno.copyFile(
        `${ROOT}examples/greet/${f}`,
        `${work}/examples/greet/${f}`,
      );
    }
    const readme = await Deno.readTextFile(`${ROOT}README.md`);
    const quickstart = readme.slice(
      readme.indexOf("## Quickstart"),
      readme.indexOf("## Configuration"),
    );
    const lines = [...quickstart.matchAll(/^deno task jobico (.+)$/gm)]
      .map((l) => l[1].trim())
      .filter((l) => !l.startsWith("stream-from-recorder"));
    assert.ok(lines.length >= 6, lines.join("\n"));
    for (const line of lines) {
      const r = await task(work, m.env, ...line.split(/\s+/));
      assert.equal(r.code, 0, `deno task jobico ${line}: ${r.err}`);
    }

    // Installed as a command of its own, run from the same folder.
    const install = await sh(
      Deno.execPath(),
      [
        "install",
        "-g",
        "--quiet",
        "--root",
        `${m.dir}/root`,
        "-n",
        "jobico",
        "--config",
        `${ROOT}deno.json`,
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys=hostname,osRelease",
        "--allow-ffi",
        `${ROOT}cli/main.ts`,
      ],
      m.dir,
      m.env,
    );
    assert.equal(install.code, 0, install.err);
    const bin = `${m.dir}/root/bin/jobico`;
    for (const line of lines) {
      const r = await sh(bin, line.split(/\s+/), work, m.env);
      assert.equal(r.code, 0, `jobico ${line}: ${r.err}`);
    }
    const r = await sh(
      bin,
      ["packages", "versions", "demo", "greet", "--json"],
      work,
      m.env,
    );
    assert.equal(r.code, 0, r.err);
  } finally {
    await dev.stop();
    await m.close();
  }
});
