import assert from "node:assert/strict";
import { ApiError, ConnectionError } from "./api_error.ts";
import { captureIo, fakeFetch, json, problem } from "./_capture_io.ts";
import { CliContext } from "./cli_context.ts";
import { CliError } from "./cli_error.ts";
import { run } from "./main.ts";
import { apiHint, reportError, START_HINT } from "./report_error.ts";

const ctx = () => new CliContext(captureIo());

function apiError(status: number, path: string, detail = "Something") {
  return new ApiError(status, { title: "T", detail }, "", {
    request: { method: "GET", path },
  });
}

Deno.test("every error status has a hint, most naming a command to run", () => {
  const cases: [number, string, string, RegExp][] = [
    [400, "/api/v1/packages", "", /^Run "jobico --help"$/],
    [
      401,
      "/api/v1/tenants/demo/files",
      "",
      /^Pass --token, set JOBICO_TOKEN, or give the profile a token/,
    ],
    [
      403,
      "/api/v1/tenants/other/files",
      "",
      /tenant's token or the admin token/,
    ],
    [
      404,
      "/api/v1/tenants/demo/packages/nope",
      "",
      /^See what exists: jobico packages list demo$/,
    ],
    [404, "/api/v1/tenants/demo/files/x.wasm", "", /jobico files list demo$/],
    [404, "/api/v1/tenants/demo/queues/q/dead", "", /jobico queues list demo$/],
    [
      404,
      "/api/v1/tenants/nobody/queues",
      'Unknown tenant "nobody"',
      /^List the tenants: jobico tenant list$/,
    ],
    [
      404,
      "/api/v1/tenants/nobody",
      "",
      /^List the tenants: jobico tenant list$/,
    ],
    [
      404,
      "/events/demo/nope",
      "",
      /^Events are declared by packages: jobico packages list demo$/,
    ],
    [
      404,
      "/api/v1/tenants/demo/executions",
      "No route for GET /api/v1/tenants/demo/executions",
      /does not serve it: see its components with jobico status$/,
    ],
    [409, "/api/v1/packages", "", /run the command again$/],
    [413, "/events/demo/greet", "", /limits are in the README/],
    [422, "/api/v1/packages", "", /Upload the files/],
    [429, "/events/demo/greet", "", /jobico queues list demo$/],
    [
      500,
      "/api/v1/tenants/demo/files",
      "",
      /its log on stderr says why; jobico status/,
    ],
    [503, "/healthz", "", /jobico status/],
    [418, "/api/v1/whoami", "", /^Run "jobico --help"$/],
  ];
  for (const [status, path, detail, hint] of cases) {
    assert.match(
      apiHint(ctx(), apiError(status, path, detail || undefined)),
      hint,
      `${status} ${path}`,
    );
  }
});

Deno.test("reportError: one line, one hint, and the exit code", () => {
  const io = captureIo();
  const c = new CliContext(io);
  assert.equal(reportError(c, new CliError("Nope", { hint: "Do this" })), 1);
  assert.equal(reportError(c, new CliError("Bad", { exitCode: 2 })), 2);
  assert.equal(
    reportError(c, new ConnectionError("http://127.0.0.1:1", "refused")),
    1,
  );
  assert.equal(
    reportError(c, new ConnectionError("https://jobico.example", "refused")),
    1,
  );
  assert.equal(reportError(c, new TypeError("x is not\na function")), 1);
  assert.equal(
    io.err(),
    "error: Nope\nhint: Do this\n" +
      "error: Bad\n" +
      "error: Cannot reach Jobico at http://127.0.0.1:1: refused\n" +
      `hint: ${START_HINT}\n` +
      "error: Cannot reach Jobico at https://jobico.example: refused\n" +
      "hint: Check the URL (--url, JOBICO_URL or the profile: jobico config) and that the platform is reachable from here\n" +
      "error: x is not a function\n" +
      "hint: Run again with JOBICO_DEBUG=1 for the stack trace\n",
  );
});

Deno.test("the hint of a platform error names the command's help, the status and the path", async () => {
  const f = fakeFetch(() => problem(400, "Invalid request", "Bad limit"));
  const io = captureIo({ fetch: f });
  assert.equal(await run(["executions", "list", "demo"], io), 1);
  assert.equal(
    io.err(),
    "error: Invalid request: Bad limit (HTTP 400)\n" +
      'hint: Run "jobico executions list --help"\n',
  );
});

Deno.test("colour: only on a terminal, never with NO_COLOR, TERM=dumb or --no-color", async () => {
  const f = fakeFetch(() =>
    json({
      queues: [{
        id: "q",
        depth: 0,
        inFlight: 0,
        delayed: 0,
        dead: 2,
        processed: 0,
        oldestAgeMs: 0,
      }],
    })
  );
  const out = async (args: string[], env = {}, tty = true) => {
    const io = captureIo({ fetch: f, env, tty });
    assert.equal(await run(args, io), 0, io.err());
    return io.out();
  };
  const args = ["queues", "list", "demo"];
  assert.ok((await out(args)).includes("\x1b[31m2\x1b[39m"), "dead in red");
  assert.ok((await out(args)).includes("\x1b[1mID"), "headers in bold");
  for (
    const [a, env, tty] of [
      [args, {}, false],
      [args, { NO_COLOR: "1" }, true],
      [args, { TERM: "dumb" }, true],
      [["--no-color", ...args], {}, true],
      [[...args, "--no-color"], {}, true],
    ] as const
  ) {
    const text = await out([...a], env, tty);
    assert.ok(!text.includes("\x1b["), `${a.join(" ")} ${JSON.stringify(env)}`);
    assert.match(text, /^ID\s+DEPTH/);
  }
  // Errors follow the same rule on stderr.
  const bad = captureIo({ tty: true });
  await run(["--no-color", "depoy"], bad);
  assert.match(bad.err(), /^error: unknown command/);
  const red = captureIo({ tty: true });
  await run(["depoy"], red);
  // deno-lint-ignore no-control-regex
  assert.match(red.err(), /^\x1b\[31merror:\x1b\[39m unknown command/);
});

Deno.test("reportError: a problem's several errors get a line each, at most 10", () => {
  const errors = Array.from({ length: 12 }, (_, i) => ({
    item: i,
    path: i % 2 ? "/name" : "",
    message: `wrong\nthing ${i}`,
  }));
  const io = captureIo();
  // As a proxy might answer: one of them is no error object.
  const body: Record<string, unknown> = {
    title: "Invalid event",
    detail: "Item 0 does not match (and 11 more)",
    errors: [...errors, "not an error object"],
  };
  const error = new ApiError(400, body, "", {
    request: { method: "POST", path: "/events/demo/greet" },
  });
  assert.equal(reportError(new CliContext(io), error), 1);
  assert.equal(
    io.err(),
    "error: Invalid event: Item 0 does not match (and 11 more) (HTTP 400)\n" +
      errors.slice(0, 10).map((e) =>
        `  item ${e.item}${e.path ? " " + e.path : ""}: wrong thing ${e.item}\n`
      ).join("") +
      "  ... and 2 more\n" +
      'hint: Run "jobico --help"\n',
  );
  // One error is the detail already: no line of its own.
  const one = captureIo();
  reportError(
    new CliContext(one),
    new ApiError(400, {
      title: "T",
      detail: "D",
      errors: [{ path: "/a", message: "m" }],
    }),
  );
  assert.equal(
    one.err(),
    'error: T: D (HTTP 400)\nhint: Run "jobico --help"\n',
  );
});
