/**
 * `deploy --wait`, `redeploy --wait`, `rollback --wait`, and the upload
 * progress bar.
 */
import assert from "node:assert/strict";
import { startPlatform } from "../../components/platform.ts";
import { VERSION } from "../../components/version.ts";
import { deployGreet, startHarness } from "../../tests/_harness.ts";
import {
  captureIo,
  type CaptureOptions,
  closedPortUrl,
  fakeFetch,
  json,
} from "../_capture_io.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

const examples = new URL("../../examples/greet/", import.meta.url);
const file = (name: string) => new URL(name, examples).pathname;

Deno.test("platform: deploy --wait returns once this process and the --wait-for one have the new version", async () => {
  const h = await startHarness({ components: ["ctl", "repo", "listener"] });
  const executor = await startPlatform({
    kv: h.kv,
    adminToken: h.adminToken,
    components: ["executor", "recorder"],
    workers: 1,
    port: 0,
  });
  try {
    await deployGreet(h);
    const cli = (...args: string[]) =>
      jobico(["--url", h.url, "--token", h.adminToken, ...args]);
    // The same package again, forced: a new version to wait for.
    let r = await cli(
      "deploy",
      file("job.yaml"),
      "--force",
      "--wait-for",
      executor.url,
      "--json",
    );
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out);
    assert.equal(res.version, 2);
    const meta = await (await fetch(`${h.url}/meta`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    })).json();
    // The deploy is counted in what the store announced...
    assert.equal(res.wait.latest, meta.definitionsLatest);
    assert.ok(res.wait.latest >= 2);
    assert.deepEqual(
      res.wait.processes.map((p: { url: string }) => p.url),
      [h.url, executor.url],
    );
    // ...and both processes had loaded it when the CLI returned.
    for (const p of res.wait.processes) {
      assert.ok(p.seen >= res.wait.latest, JSON.stringify(p));
      assert.equal(typeof p.afterMs, "number");
    }
    assert.ok(h.platform.definitions.seen >= res.wait.latest);
    assert.ok(executor.definitions.seen >= res.wait.latest);

    r = await cli(
      "redeploy",
      "greet",
      "--config",
      file("job.yaml"),
      "--force",
      "--wait",
    );
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      new RegExp(
        `^Deployed demo/greet version 3\\nLive on ${h.url} after \\d+`,
      ),
    );
    r = await cli("rollback", "demo", "greet", "--version", "1", "--wait");
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^Rolled back demo\/greet to version 1 \(now current as version 4\)\nLive on /,
    );
    // Rollbacks are definition changes too: seen caught up with them.
    const after = await (await fetch(`${h.url}/meta`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    })).json();
    assert.ok(after.definitionsSeen >= after.definitionsLatest);
  } finally {
    await executor.close();
    await h.close();
  }
});

Deno.test("deploy --wait polls /meta until definitionsSeen reaches definitionsLatest", async () => {
  let metaCalls = 0;
  const f = fakeFetch((req) => {
    const p = req.url.pathname;
    if (p === "/api/v1/packages") {
      return json({ tenant: "demo", id: "greet", version: 7 }, 201);
    }
    if (p === "/meta") {
      metaCalls++;
      // Catches up on the fourth look.
      return json({
        name: "jobico",
        version: VERSION,
        components: [],
        definitionsLatest: 12,
        definitionsSeen: metaCalls < 4 ? 11 : 12,
      });
    }
    return json({}, 404);
  });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/job.yaml`, "id: greet\ntenant: demo\n");
    const r = await jobico(["deploy", `${dir}/job.yaml`, "--wait", "--json"], {
      fetch: f,
    });
    assert.equal(r.code, 0, r.err);
    assert.equal(metaCalls, 4);
    const res = JSON.parse(r.out);
    assert.equal(res.wait.latest, 12);
    assert.equal(res.wait.processes[0].seen, 12);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("platform: deploy --wait gives up after --wait-timeout, saying what was deployed and what did not answer", async () => {
  const h = await startHarness({ components: ["ctl", "repo", "listener"] });
  try {
    await deployGreet(h);
    const closed = closedPortUrl();
    for (const json of [false, true]) {
      const r = await jobico([
        "--url",
        h.url,
        "--token",
        h.adminToken,
        "deploy",
        file("job.yaml"),
        "--force",
        "--wait-for",
        closed,
        "--wait-timeout",
        "0.2",
        ...(json ? ["--json"] : []),
      ]);
      assert.equal(r.code, 1);
      const version = json ? 3 : 2;
      assert.equal(
        r.out,
        json ? "" : `Deployed demo/greet version ${version}\n`,
      );
      const [line, hint] = r.err.trimEnd().split("\n");
      assert.match(
        line,
        new RegExp(
          `^error: Deployed demo/greet version ${version}, but gave up waiting after \\d+ms: ${closed} \\(Cannot reach Jobico at ${closed}: .*\\)$`,
        ),
      );
      assert.equal(
        hint,
        `hint: Check the process: jobico status ${closed}; a longer wait: --wait-timeout`,
      );
    }
  } finally {
    await h.close();
  }
});

Deno.test("deploy --wait: a bad --wait-for or --wait-timeout exits 2 before anything is deployed", async () => {
  const f = fakeFetch(() => {
    throw new Error("fetch must not be called");
  });
  for (
    const [args, message] of [
      [["--wait-for", "nope"], /^error: Invalid --wait-for URL "nope"\nhint: /],
      [
        ["--wait", "--wait-timeout", "-1"],
        /^error: Invalid --wait-timeout "-1"/,
      ],
    ] as const
  ) {
    const r = await jobico(["deploy", file("job.yaml"), ...args], { fetch: f });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, message);
  }
  assert.equal(f.requests.length, 0);
});

Deno.test("deploy --wait against a platform whose /meta does not say what it loaded exits 1", async () => {
  const f = fakeFetch((req) =>
    req.url.pathname === "/meta"
      ? json({ name: "jobico", version: "0.0.1", components: [] })
      : json({ tenant: "demo", id: "greet", version: 2 }, 201)
  );
  const r = await jobico(["deploy", file("job.yaml"), "--wait"], { fetch: f });
  assert.equal(r.code, 1);
  assert.equal(r.out, "Deployed demo/greet version 2\n");
  assert.match(
    r.err,
    /^error: The platform at .* does not say in \/meta which definitions it has loaded, so it cannot be waited for\nhint: Leave out --wait/,
  );
});

Deno.test("platform: several uploads draw a progress bar on a terminal's stderr only", async () => {
  const h = await startHarness({ components: ["ctl", "repo"] });
  try {
    const args = [
      "--url",
      h.url,
      "--token",
      h.adminToken,
      "deploy",
      "greet",
      "--config",
      file("job.yaml"),
      "--wasm",
      file("greet.wasm"),
      "--wasm",
      file("audit.wasm"),
      "--schema",
      file("greet.schema.json"),
      "--schema",
      file("result.schema.json"),
    ];
    let r = await jobico(args, { tty: true });
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "Uploaded demo/greet.wasm\nUploaded demo/audit.wasm\n" +
        "Uploaded demo/greet.schema.json\nUploaded demo/result.schema.json\n" +
        "Deployed demo/greet version 1\n",
    );
    assert.match(
      r.err,
      // deno-lint-ignore no-control-regex
      /\r\x1b\[2KUploading {2}\[[█░]{24}\] {2}0 B\/\d+\.\d KiB {2}greet\.wasm/,
    );
    assert.ok(r.err.endsWith("\r\x1b[2K"), "the bar is erased at the end");
    // Not a terminal: no bar at all.
    r = await jobico(args);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "");
  } finally {
    await h.close();
  }
});
