import { sha256Hex } from "@jobico/goico";
import { TEST_ADMIN_TOKEN } from "../components/server/_test_platform.ts";
import assert from "node:assert/strict";
import {
  captureIo,
  type CaptureOptions,
  closedPortUrl,
  fakeFetch,
  json,
  problem,
  sampleExecution,
  streamOf,
  terminalControls,
} from "./_capture_io.ts";
import { startPlatform } from "../components/platform.ts";
import { run, START_HINT, TOKEN_HINT, VERSION } from "./main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

/** A fetch that must not be called. */
const noFetch = fakeFetch(() => {
  throw new Error("fetch must not be called");
});

const HELP_HINT_LINE = 'hint: Run "jobico --help"\n';

Deno.test("--help lists the commands and exits 0", async () => {
  const { code, out, err } = await jobico(["--help"]);
  assert.equal(code, 0);
  assert.equal(err, "");
  for (
    const name of [
      "upload-wasm",
      "upload-schema",
      "deploy",
      "redeploy",
      "rollback",
      "packages",
      "files",
      "send",
      "executions",
      "queues",
      "stream-from-recorder",
      "status",
      "--url",
      "--token",
    ]
  ) assert.ok(out.includes(name), `help mentions ${name}`);
});

Deno.test("subcommand help exits 0", async () => {
  const { code, out } = await jobico(["packages", "--help"]);
  assert.equal(code, 0);
  assert.match(out, /versions/);
  assert.equal((await jobico(["help", "deploy"])).code, 0);
});

Deno.test("--version and -V print the version", async () => {
  for (const flag of ["--version", "-V"]) {
    const { code, out } = await jobico([flag]);
    assert.equal(code, 0);
    assert.match(out, /^\d+\.\d+\.\d+\n$/);
  }
});

Deno.test("usage mistakes exit 2 with one line and a hint", async () => {
  // The hint names the help of the command the mistake was made in.
  const cases: [string[], RegExp, string][] = [
    [["depoy", "x.yaml"], /^error: unknown command 'depoy'.*deploy/, ""],
    [["deploy"], /^error: missing required argument 'package'/, "deploy"],
    [
      ["packages", "list"],
      /^error: missing required argument 'tenant'/,
      "packages list",
    ],
    [["packages", "lst"], /^error: unknown command 'lst'/, "packages"],
    [["status", "--bogus"], /^error: unknown option '--bogus'/, "status"],
    [
      ["rollback", "demo", "greet"],
      /^error: required option '--version/,
      "rollback",
    ],
    [
      ["rollback", "demo", "greet", "--version", "x"],
      /positive integer/,
      "rollback",
    ],
    [
      ["executions", "list", "demo", "--status", "meh"],
      /ok, error, failed/,
      "executions list",
    ],
    [
      ["executions", "list", "demo", "--limit", "0"],
      /positive integer/,
      "executions list",
    ],
    [["files", "list", "demo", "extra"], /too many arguments/, "files list"],
    [["completion", "fish"], /Allowed choices are bash, zsh/, "completion"],
    [
      ["config", "set", "colour", "x"],
      /one of url, token, tenant/,
      "config set",
    ],
  ];
  for (const [args, message, command] of cases) {
    const { code, out, err } = await jobico(args, { fetch: noFetch });
    assert.equal(code, 2, args.join(" "));
    assert.equal(out, "");
    const lines = err.split("\n");
    assert.equal(lines.length, 3, `two lines for ${args.join(" ")}: ${err}`);
    assert.match(lines[0], message);
    assert.equal(
      lines[1] + "\n",
      command ? `hint: Run "jobico ${command} --help"\n` : HELP_HINT_LINE,
    );
  }
  assert.equal(noFetch.requests.length, 0);
});

Deno.test("a group without its subcommand shows help and exits 2", async () => {
  const { code, err } = await jobico(["packages"]);
  assert.equal(code, 2);
  assert.match(err, /Usage: jobico packages/);
});

Deno.test("send: an invalid JSON item exits 2 naming it", async () => {
  const { code, err } = await jobico(
    ["send", "demo", "greet", '{"name":"Ada"}', "{name: Bob}"],
    { fetch: noFetch },
  );
  assert.equal(code, 2);
  assert.match(err, /^error: Item 2 is not valid JSON: '\{name: Bob\}'/);
  assert.match(err, /\nhint: Quote each item/);
});

Deno.test("a missing local file exits 2 with a hint", async () => {
  for (
    const args of [
      ["upload-wasm", "demo", "no/such/file.wasm"],
      ["upload-schema", "demo", "no/such/file.json"],
      ["deploy", "no/such/job.yaml"],
    ]
  ) {
    const { code, err } = await jobico(args, { fetch: noFetch });
    assert.equal(code, 2);
    assert.match(err, /^error: File "no\/such\/.*" not found\nhint: /);
  }
});

Deno.test("deploying an empty file exits 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/empty.yaml`, "\n");
    const { code, err } = await jobico(["deploy", `${dir}/empty.yaml`], {
      fetch: noFetch,
    });
    assert.equal(code, 2);
    assert.match(err, /^error: File ".*empty\.yaml" is empty\nhint: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an invalid --url exits 2", async () => {
  const { code, err } = await jobico(["status", "--url", "ftp://x"]);
  assert.equal(code, 2);
  assert.match(err, /^error: Invalid platform URL "ftp:\/\/x"/);
});

Deno.test("a closed port exits 1 with the start hint", async () => {
  const url = closedPortUrl();
  const { code, out, err } = await jobico(["status", "--url", url]);
  assert.equal(code, 1);
  assert.equal(out, "");
  const [line, hint] = err.split("\n");
  assert.ok(line.startsWith(`error: Cannot reach Jobico at ${url}: `), line);
  assert.equal(hint, `hint: ${START_HINT}`);
});

Deno.test("flags beat the environment, which beats the default", async () => {
  const f = fakeFetch(() => json({ packages: [] }));
  const env = { JOBICO_URL: "http://env.test:1", JOBICO_TOKEN: "env-token" };
  await jobico(["packages", "list", "demo"], { fetch: f, env });
  await jobico(
    ["--url", "http://flag.test:2", "packages", "list", "demo", "--token", "t"],
    { fetch: f, env },
  );
  await jobico(["packages", "list", "demo"], { fetch: f });
  assert.deepEqual(
    f.requests.map((r) => [r.url.origin, r.headers.get("authorization")]),
    [
      ["http://env.test:1", "Bearer env-token"],
      ["http://flag.test:2", "Bearer t"],
      ["http://127.0.0.1:8080", null],
    ],
  );
});

Deno.test("401 exits 1 with the token hint", async () => {
  const f = fakeFetch(() => problem(401, "Unauthorized", "Invalid token"));
  const { code, err } = await jobico(["files", "list", "demo"], { fetch: f });
  assert.equal(code, 1);
  assert.equal(
    err,
    `error: Unauthorized: Invalid token (HTTP 401)\nhint: ${TOKEN_HINT}\n`,
  );
});

Deno.test("other API errors exit 1 with the problem's text", async () => {
  const f = fakeFetch(() =>
    problem(404, "Not Found", 'Package "nope" not found')
  );
  const { code, err } = await jobico(["packages", "show", "demo", "nope"], {
    fetch: f,
  });
  assert.equal(code, 1);
  assert.equal(
    err,
    'error: Not Found: Package "nope" not found (HTTP 404)\n' +
      "hint: See what exists: jobico packages list demo\n",
  );
});

Deno.test("deploy prints the version, or every issue as file:line:col", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/job.yaml`;
    await Deno.writeTextFile(file, "id: greet\n");
    const ok = fakeFetch(() =>
      json({ tenant: "demo", id: "greet", version: 3 }, 201)
    );
    const deployed = await jobico(["deploy", file], { fetch: ok });
    assert.equal(deployed.code, 0);
    assert.equal(deployed.out, "Deployed demo/greet version 3\n");
    assert.equal(ok.requests[0].body, "id: greet\n");

    const again = await jobico(["redeploy", file, "--json"], { fetch: ok });
    assert.deepEqual(JSON.parse(again.out), {
      tenant: "demo",
      id: "greet",
      version: 3,
    });

    const bad = fakeFetch(() =>
      problem(400, "Invalid package", "2 issues", {
        issues: [
          {
            kind: "structure",
            path: "tenant",
            message: 'Missing "tenant"',
            line: 1,
            col: 1,
          },
          {
            kind: "syntax",
            path: "",
            message: "Unexpected indent",
            line: 4,
            col: 3,
          },
        ],
      })
    );
    const rejected = await jobico(["deploy", file], { fetch: bad });
    assert.equal(rejected.code, 1);
    assert.equal(rejected.out, "");
    assert.equal(
      rejected.err,
      `${file}:1:1: Missing "tenant"\n` +
        `${file}:4:3: Unexpected indent\n` +
        `error: ${file} not deployed: 2 issues\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("upload-wasm PUTs the bytes under the file's name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/greet.wasm`;
    await Deno.writeFile(file, new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    const f = fakeFetch((req) =>
      json({
        tenant: "demo",
        name: decodeURIComponent(req.url.pathname.split("/").at(-1)!),
        kind: req.url.searchParams.get("kind"),
        size: 8,
        sha256: "ab".repeat(32),
        uploadedAt: "2025-01-02T03:04:05Z",
      }, 201)
    );
    const up = await jobico(["upload-wasm", "demo", file], { fetch: f });
    assert.equal(up.code, 0, up.err);
    assert.equal(
      up.out,
      "Uploaded demo/greet.wasm\nname    greet.wasm\nkind    wasm\n" +
        `size    8 bytes\nsha256  ${"ab".repeat(32)}\n`,
    );
    assert.equal(
      f.requests[0].url.pathname + f.requests[0].url.search,
      "/api/v1/tenants/demo/files/greet.wasm?kind=wasm",
    );
    assert.equal(f.requests[0].method, "PUT");
    assert.equal(f.requests[0].body.length, 8);

    const named = await jobico(
      ["upload-schema", "demo", file, "--name", "in.json", "--json"],
      { fetch: f },
    );
    assert.equal(JSON.parse(named.out).name, "in.json");
    assert.equal(f.requests[1].url.searchParams.get("kind"), "schema");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("send posts the items and prints the ids", async () => {
  const f = fakeFetch(() => json({ accepted: 2, ids: ["e1", "e2"] }));
  const { code, out } = await jobico(
    ["send", "demo", "greet", '{"name":"Ada"}', "42"],
    { fetch: f },
  );
  assert.equal(code, 0);
  assert.equal(out, "Accepted 2 items for demo/greet\ne1\ne2\n");
  assert.equal(f.requests[0].url.pathname, "/events/demo/greet");
  assert.deepEqual(JSON.parse(f.requests[0].body), {
    data: [{ name: "Ada" }, 42],
  });
});

Deno.test("executions list prints a table, or the page with --json", async () => {
  const page = {
    executions: [
      sampleExecution(),
      sampleExecution({
        id: "2",
        status: "failed",
        code: null,
        result: null,
        error: "trap",
      }),
    ],
    cursor: "next-1",
  };
  const f = fakeFetch(() => json(page));
  const human = await jobico(
    ["executions", "list", "demo", "--status", "ok", "--limit", "2"],
    { fetch: f },
  );
  assert.equal(human.code, 0);
  const lines = human.out.trimEnd().split("\n");
  assert.match(
    lines[0],
    /^STARTED\s+STATUS\s+PACKAGE\/EVENT\s+CODE\s+TIME\s+RESULT$/,
  );
  assert.match(
    lines[1],
    /ok\s+greet\/greet\s+0\s+12ms\s+\{"message":"Hello Ada"\}$/,
  );
  assert.match(lines[2], /failed\s+greet\/greet\s+-\s+12ms\s+trap$/);
  assert.equal(lines[3], "More: jobico executions list demo --cursor next-1");
  assert.equal(f.requests[0].url.search, "?status=ok&limit=2");
  assert.equal(human.out.includes("\x1b["), false, "no colour into a pipe");

  const machine = await jobico(["executions", "list", "demo", "--json"], {
    fetch: f,
  });
  assert.deepEqual(JSON.parse(machine.out), page);
});

Deno.test("colour only on a terminal without NO_COLOR", async () => {
  const f = fakeFetch(() =>
    json({ executions: [sampleExecution()], cursor: null })
  );
  const args = ["executions", "list", "demo"];
  assert.ok(
    (await jobico(args, { fetch: f, tty: true })).out.includes("\x1b[32mok"),
  );
  assert.ok(
    !(await jobico(args, { fetch: f, tty: true, env: { NO_COLOR: "1" } })).out
      .includes("\x1b["),
  );
});

Deno.test("read commands print tables and --json", async () => {
  const f = fakeFetch((req) => {
    const p = req.url.pathname;
    if (p.endsWith("/versions")) {
      return json({
        versions: [
          { version: 2, deployedAt: "2025-01-02T03:04:05Z", current: true },
          { version: 1, deployedAt: "2025-01-01T03:04:05Z", current: false },
        ],
      });
    }
    if (p.endsWith("/packages")) {
      return json({
        packages: [{
          tenant: "demo",
          id: "greet",
          name: "Greeter",
          version: 2,
          deployedAt: "2025-01-02T03:04:05Z",
        }],
      });
    }
    if (p.endsWith("/files")) {
      return json({
        files: [{
          name: "greet.wasm",
          kind: "wasm",
          size: 1234,
          sha256: "0123456789abcdef".repeat(4),
          uploadedAt: "2025-01-02T03:04:05Z",
        }],
      });
    }
    if (p.endsWith("/packages/greet")) {
      return json({
        tenant: "demo",
        id: "greet",
        version: 2,
        source: "id: greet\ntenant: demo\n",
      });
    }
    if (p === "/healthz") return json({ status: "ok" });
    if (p === "/meta") {
      return json({
        name: "jobico",
        version: VERSION,
        components: ["ctl", { name: "listener" }],
      });
    }
    return problem(404, "Not Found");
  });
  const o = { fetch: f };
  let r = await jobico(["packages", "list", "demo"], o);
  assert.match(
    r.out,
    /^ID\s+NAME\s+VERSION\s+DEPLOYED\ngreet\s+Greeter\s+2\s+/,
  );
  r = await jobico(["packages", "versions", "demo", "greet"], o);
  assert.match(
    r.out,
    /^VERSION\s+DEPLOYED\s+DEPLOYED BY\s+CURRENT\s+NOTE\n2\s+\S+ \S+\s+-\s+\*\n1\s+/,
  );
  r = await jobico(["packages", "show", "demo", "greet"], o);
  assert.equal(r.out, "id: greet\ntenant: demo\n");
  r = await jobico(["files", "list", "demo"], o);
  assert.match(r.out, /greet\.wasm\s+wasm\s+1234\s+0123456789ab\s+/);
  r = await jobico(["status"], o);
  assert.equal(r.code, 0);
  assert.match(r.out, /^url\s+http:\/\/127\.0\.0\.1:8080\nstatus\s+ok\n/);
  assert.match(r.out, /components\s+ctl, listener\n/);
  for (
    const args of [
      ["packages", "list", "demo"],
      ["packages", "versions", "demo", "greet"],
      ["packages", "show", "demo", "greet"],
      ["files", "list", "demo"],
      ["status"],
    ]
  ) {
    const res = await jobico([...args, "--json"], o);
    assert.equal(res.code, 0);
    assert.doesNotThrow(() => JSON.parse(res.out), args.join(" "));
  }
});

Deno.test("rollback and delete", async () => {
  const f = fakeFetch((req) =>
    req.method === "DELETE"
      ? new Response(null, { status: 204 })
      : json({ tenant: "demo", id: "greet", version: 1 })
  );
  let r = await jobico(["rollback", "demo", "greet", "--version", "1"], {
    fetch: f,
  });
  assert.equal(r.code, 0);
  assert.equal(r.out, "Rolled back demo/greet to version 1\n");
  assert.equal(f.requests[0].body, '{"version":1}');
  r = await jobico(
    ["packages", "rollback", "demo", "greet", "--version", "1"],
    {
      fetch: f,
    },
  );
  assert.equal(r.code, 0);
  r = await jobico(["packages", "delete", "demo", "greet", "--yes"], {
    fetch: f,
  });
  assert.equal(r.code, 0);
  assert.equal(r.out, "Deleted demo/greet\n");
});

Deno.test("a failing platform makes status exit 1", async () => {
  const f = fakeFetch((req) =>
    req.url.pathname === "/healthz"
      ? json({ status: "failing", checks: { kv: "down" } }, 503)
      : json({ name: "jobico", version: VERSION, components: [] })
  );
  const r = await jobico(["status"], { fetch: f });
  assert.equal(r.code, 1);
  assert.match(r.out, /status\s+failing/);
  assert.match(r.out, /checks\s+kv=down/);
  assert.match(
    r.err,
    /^error: The platform at .* is failing\nhint: Its log on stderr says why the check fails\n$/,
  );
});

function sseBody(executions: unknown[]) {
  const wire = ": connected\n\n" +
    executions.map((e) => `event: execution\ndata: ${JSON.stringify(e)}\n\n`)
      .join("");
  return streamOf(wire.match(/[\s\S]{1,5}/g)!);
}

Deno.test("stream-from-recorder prints a line per execution until the end", async () => {
  const executions = [
    sampleExecution({ id: "1" }),
    sampleExecution({
      id: "2",
      status: "error",
      code: 3,
      result: "bad input",
      logs: [{ level: "warn", message: "name missing", source: "module" }],
    }),
  ];
  const f = fakeFetch(() => new Response(sseBody(executions)));
  const r = await jobico(
    ["stream-from-recorder", "demo", "--logs", "--package", "greet"],
    { fetch: f },
  );
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines.length, 4);
  assert.equal(
    lines[0].slice(12),
    '  ok      greet/greet  code=0  12ms  {"message":"Hello Ada"}',
  );
  assert.equal(lines[1], "  [info] greeting Ada");
  assert.equal(
    lines[2].slice(12),
    "  error   greet/greet  code=3  12ms  bad input",
  );
  assert.equal(lines[3], "  [warn] name missing");
  assert.match(r.err, /^Streaming executions of demo/);
  assert.equal(f.requests[0].url.search, "?package=greet");

  const j = await jobico(["stream-from-recorder", "demo", "--json"], {
    fetch: fakeFetch(() => new Response(sseBody(executions))),
  });
  assert.equal(j.err, "");
  assert.deepEqual(
    j.out.trimEnd().split("\n").map((l) => JSON.parse(l)),
    executions,
  );
});

Deno.test("stream-from-recorder ends with exit 0 on Ctrl-C", async () => {
  const controller = new AbortController();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(
        `event: execution\ndata: ${JSON.stringify(sampleExecution())}\n\n`,
      ));
    },
  });
  const io = captureIo({
    fetch: () => Promise.resolve(new Response(body)),
    signal: controller.signal,
  });
  const running = run(["stream-from-recorder", "demo"], io);
  while (!io.out()) await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  assert.equal(await running, 0);
  assert.equal(io.out().split("\n").length, 2);
});

// ---- Against the real platform, in-process, over real HTTP ----

const GREET = new URL("../examples/greet/", import.meta.url);
const example = (name: string) =>
  decodeURIComponent(new URL(name, GREET).pathname);

async function withPlatform(
  options: { adminToken?: string },
  fn: (url: string) => Promise<void>,
) {
  const kv = await Deno.openKv(":memory:");
  const platform = await startPlatform({
    kv,
    port: 0,
    adminToken: options.adminToken ?? TEST_ADMIN_TOKEN,
  });
  try {
    await fn(platform.url);
  } finally {
    await platform.close();
    kv.close();
  }
}

/** Uploads the greet example's files for tenant demo and deploys it, with the CLI. */
async function deployGreetWith(
  cli: (...args: string[]) => Promise<{ code: number; err: string }>,
) {
  for (const name of ["greet.wasm", "audit.wasm"]) {
    assert.equal((await cli("upload-wasm", "demo", example(name))).code, 0);
  }
  for (const name of ["greet.schema.json", "result.schema.json"]) {
    assert.equal((await cli("upload-schema", "demo", example(name))).code, 0);
  }
  const deployed = await cli("deploy", example("job.yaml"));
  assert.equal(deployed.code, 0, deployed.err);
}

/** `jobico stream-from-recorder demo --event greet <flag>` until `stop` aborts. */
function followGreet(url: string, flag: string) {
  const stop = new AbortController();
  const streamIo = captureIo({ signal: stop.signal });
  const streaming = run(
    [
      "--url",
      url,
      "--token",
      TEST_ADMIN_TOKEN,
      "stream-from-recorder",
      "demo",
      "--event",
      "greet",
      flag,
    ],
    streamIo,
  );
  return { stop, streamIo, streaming };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

Deno.test("platform: upload, deploy, send, stream and list executions", async () => {
  await withPlatform({}, async (url) => {
    const cli = (...args: string[]) =>
      jobico(["--url", url, "--token", TEST_ADMIN_TOKEN, ...args]);

    for (const name of ["greet.wasm", "audit.wasm"]) {
      const r = await cli("upload-wasm", "demo", example(name));
      assert.equal(r.code, 0, r.err);
      const sha = await sha256Hex(await Deno.readFile(example(name)));
      assert.match(r.out, new RegExp(`^Uploaded demo/${name}\\n`));
      assert.match(r.out, new RegExp(`\\nsha256  ${sha}\\n`));
    }
    for (const name of ["greet.schema.json", "result.schema.json"]) {
      const r = await cli("upload-schema", "demo", example(name), "--json");
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).kind, "schema");
    }
    const files = await cli("files", "list", "demo", "--json");
    assert.deepEqual(
      JSON.parse(files.out).files.map((f: { name: string }) => f.name).sort(),
      ["audit.wasm", "greet.schema.json", "greet.wasm", "result.schema.json"],
    );

    const deployed = await cli("deploy", example("job.yaml"));
    assert.equal(deployed.code, 0, deployed.err);
    assert.equal(deployed.out, "Deployed demo/greet version 1\n");

    // Follow the stream while the event runs.
    const { stop, streamIo, streaming } = followGreet(url, "--json");
    await new Promise((r) => setTimeout(r, 100));

    const sent = await cli("send", "demo", "greet", '{"name":"Ada"}');
    assert.equal(sent.code, 0, sent.err);
    const [accepted, eventId] = sent.out.trimEnd().split("\n");
    assert.equal(accepted, "Accepted 1 item for demo/greet");

    const execution = await until("the greet execution", async () => {
      const r = await cli("executions", "list", "demo", "--json");
      assert.equal(r.code, 0, r.err);
      const page = JSON.parse(r.out);
      return page.executions.find((e: { eventId: string }) =>
        e.eventId === eventId
      );
    });
    assert.equal(execution.status, "ok");
    assert.equal(execution.event, "greet");
    assert.equal(execution.code, 0);
    assert.match(JSON.stringify(execution.result), /Hello, Ada!/);

    const streamed = await until("the streamed execution", () => {
      const lines = streamIo.out().split("\n").filter((l) => l);
      return Promise.resolve(
        lines.map((l) => JSON.parse(l)).find((e) => e.eventId === eventId),
      );
    });
    assert.equal(streamed.id, execution.id);
    stop.abort();
    assert.equal(await streaming, 0, streamIo.err());

    const table = await cli("executions", "list", "demo", "--event", "greet");
    assert.match(table.out, /^STARTED\s+STATUS\s+PACKAGE\/EVENT/);
    assert.match(table.out, /\n\S+ \S+\s+ok\s+greet\/greet\s+0\s+/);

    // Versions, rollback, show, delete.
    assert.equal(
      (await cli("redeploy", example("job.yaml"), "--force")).out,
      "Deployed demo/greet version 2\n",
    );
    const versions = JSON.parse(
      (await cli("packages", "versions", "demo", "greet", "--json")).out,
    ).versions;
    assert.deepEqual(
      versions.map((v: { version: number; current: boolean }) => [
        v.version,
        v.current,
      ]).sort(),
      [[1, false], [2, true]],
    );
    const rolled = await cli("rollback", "demo", "greet", "--version", "1");
    assert.equal(rolled.code, 0, rolled.err);
    assert.match(rolled.out, /^Rolled back demo\/greet to version 1/);
    const shown = await cli("packages", "show", "demo", "greet");
    assert.equal(shown.out, await Deno.readTextFile(example("job.yaml")));
    const list = await cli("packages", "list", "demo");
    assert.match(
      list.out,
      /^ID\s+NAME\s+VERSION\s+DEPLOYED\ngreet\s+Greeting example\s+/,
    );
    const status = await cli("status", "--json");
    assert.equal(status.code, 0, status.err);
    assert.equal(JSON.parse(status.out).health.status, "ok");
    const deleted = await cli("packages", "delete", "demo", "greet", "--yes");
    assert.equal(deleted.code, 0, deleted.err);
    const gone = await cli("packages", "show", "demo", "greet");
    assert.equal(gone.code, 1);
    assert.match(
      gone.err,
      /^error: .*\(HTTP 404\)\nhint: See what exists: jobico packages list demo\n$/,
    );
  });
});

Deno.test("platform: an invalid package prints file:line:col lines and exits 1", async () => {
  await withPlatform({}, async (url) => {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/bad.yaml`;
      await Deno.writeTextFile(
        file,
        "id: bad\ntenant: demo\nqueues:\n  - id: q\njobs:\n  - event:\n" +
          "      id: e\n      datatype: 0\n      schema:\n        id: s\n" +
          "        schemaref: missing.schema.json\n" +
          "      supplierqueue: nope\n      runtime: r\n" +
          "runtimes:\n  - id: r\n    moduleref: missing.wasm\n    type: 0\n" +
          "colour: blue\n",
      );
      const r = await jobico([
        "--url",
        url,
        "--token",
        TEST_ADMIN_TOKEN,
        "deploy",
        file,
      ]);
      assert.equal(r.code, 1);
      assert.equal(r.out, "");
      const lines = r.err.trimEnd().split("\n");
      const issues = lines.slice(0, -1);
      assert.ok(issues.length >= 1, r.err);
      for (const line of issues) {
        assert.ok(line.startsWith(`${file}:`), line);
        assert.match(line.slice(file.length), /^:\d+:\d+: \S/);
      }
      assert.equal(
        lines.at(-1),
        `error: ${file} not deployed: ${issues.length} issues`,
      );

      const syntax = `${dir}/syntax.yaml`;
      await Deno.writeTextFile(syntax, "id: [unclosed\ntenant: demo\n");
      const s = await jobico([
        "--url",
        url,
        "--token",
        TEST_ADMIN_TOKEN,
        "deploy",
        syntax,
      ]);
      assert.equal(s.code, 1);
      assert.match(
        s.err,
        new RegExp(`^${syntax.replaceAll("/", "\\/")}:\\d+:\\d+: `),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("platform: a wrong or missing token exits 1 with the hint", async () => {
  await withPlatform({ adminToken: "right-admin-token-0001" }, async (url) => {
    const wrong = await jobico([
      "--url",
      url,
      "--token",
      "wrong",
      "files",
      "list",
      "demo",
    ]);
    assert.equal(wrong.code, 1);
    const [line, hint] = wrong.err.trimEnd().split("\n");
    assert.match(line, /^error: .*\(HTTP 401\)$/);
    assert.equal(hint, `hint: ${TOKEN_HINT}`);

    const missing = await jobico(["--url", url, "send", "demo", "greet", "{}"]);
    assert.equal(missing.code, 1);
    assert.ok(missing.err.endsWith(`hint: ${TOKEN_HINT}\n`));

    const env = { JOBICO_URL: url, JOBICO_TOKEN: "right-admin-token-0001" };
    assert.equal((await jobico(["tenant", "create", "demo"], { env })).code, 0);
    const right = await jobico(["files", "list", "demo", "--json"], { env });
    assert.equal(right.code, 0, right.err);
    assert.deepEqual(JSON.parse(right.out), { files: [] });
  });
});

Deno.test("platform: send prints every way the items fail the schema", async () => {
  await withPlatform({}, async (url) => {
    const cli = (...args: string[]) =>
      jobico(["--url", url, "--token", TEST_ADMIN_TOKEN, ...args]);
    await deployGreetWith(cli);
    // Item 0 lacks "name" and has "nom"; item 1 is fine; item 2 is no object.
    const sent = await cli(
      "send",
      "demo",
      "greet",
      '{"nom":"Ada"}',
      '{"name":"Grace"}',
      "7",
    );
    assert.equal(sent.code, 1);
    const lines = sent.err.trimEnd().split("\n");
    assert.match(
      lines[0],
      /^error: .*Item 0 of "data" does not match schema "greet.schema.json": .*\(and 2 more\) \(HTTP 400\)$/,
    );
    const details = lines.slice(1, -1);
    assert.equal(details.length, 3, sent.err);
    assert.match(details[0], /^ {2}item 0 \/name: .*name.*required/);
    assert.match(details[1], /^ {2}item 0( \S+)?: .*nom/);
    assert.match(details[2], /^ {2}item 2( \S+)?: /);
    assert.match(lines[lines.length - 1], /^hint: /);
    // Nothing was queued: the request was refused whole.
    const list = await cli("executions", "list", "demo", "--json");
    assert.deepEqual(JSON.parse(list.out).executions, []);
  });
});

Deno.test("platform: attack: what a sender or a module writes cannot drive the terminal", async () => {
  await withPlatform({}, async (url) => {
    const cli = (...args: string[]) =>
      jobico(["--url", url, "--token", TEST_ADMIN_TOKEN, ...args]);
    await deployGreetWith(cli);
    const { stop, streamIo, streaming } = followGreet(url, "--logs");
    await new Promise((r) => setTimeout(r, 100));
    // greet logs and prints the name it is given: set the window's title,
    // clear the screen, overwrite the line, reverse what follows.
    const name = "Ada\x1b]0;pwned\x07\x1b[2J\rFAKE\u202e";
    const sent = await cli("send", "demo", "greet", JSON.stringify({ name }));
    assert.equal(sent.code, 0, sent.err);
    await until("the streamed logs", () =>
      Promise.resolve(
        streamIo.out().includes("pwned") ? true : undefined,
      ));
    stop.abort();
    assert.equal(await streaming, 0, streamIo.err());
    const out = streamIo.out();
    assert.deepEqual(terminalControls(out), [], out);
    assert.match(out, /Ada\\x1b\]0;pwned\\x07\\x1b\[2J\\x0dFAKE\\u202e/);
    const list = await cli("executions", "list", "demo");
    assert.equal(list.code, 0, list.err);
    assert.deepEqual(terminalControls(list.out), [], list.out);
  });
});
