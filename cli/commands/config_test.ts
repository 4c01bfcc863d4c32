import assert from "node:assert/strict";
import { startHarness } from "../../tests/_harness.ts";
import { captureIo, type CaptureOptions } from "../_capture_io.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

Deno.test("platform: config set writes profiles that commands then use; config shows where each value comes from", async () => {
  const h = await startHarness();
  const dir = await Deno.makeTempDir();
  const file = `${dir}/jobico/config.json`;
  try {
    // No HOME: the file is where JOBICO_CONFIG says, created on first set.
    const env = { JOBICO_CONFIG: file };
    const cli = (...args: string[]) => jobico(args, { env });

    // Nothing configured: the default URL. Asked of `config`, which needs no
    // platform: a developer's own `deno task dev` may answer on that port.
    let r = await cli("config", "--json");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out).url, {
      value: "http://127.0.0.1:8080",
      source: "default",
      from: "the default",
    });

    r = await cli("--profile", "ci", "config", "set", "url", h.url);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `Set url of profile "ci" in ${file}\n`);
    r = await cli("--profile", "ci", "config", "set", "token", h.adminToken);
    assert.equal(r.code, 0, r.err);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    }
    assert.deepEqual(JSON.parse(await Deno.readTextFile(file)), {
      profiles: { ci: { url: h.url, token: h.adminToken } },
    });

    // Not used until named...
    r = await cli("tenant", "list");
    assert.equal(r.code, 1);
    r = await cli("--profile", "ci", "tenant", "create", "acme");
    assert.equal(r.code, 0, r.err);
    r = await jobico(["tenant", "list", "--json"], {
      env: { ...env, JOBICO_PROFILE: "ci" },
    });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      JSON.parse(r.out).tenants.map((t: { id: string }) => t.id),
      [
        "acme",
      ],
    );
    // ...or made the default.
    r = await cli("config", "use", "ci");
    assert.equal(r.code, 0, r.err);
    r = await cli("tenant", "list", "--json");
    assert.equal(r.code, 0, r.err);

    // The environment beats the profile, a flag beats both.
    r = await jobico(["config", "--json"], {
      env: { ...env, JOBICO_URL: "http://env.test:1" },
    });
    assert.equal(r.code, 0, r.err);
    const shown = JSON.parse(r.out);
    assert.deepEqual(shown.url, {
      value: "http://env.test:1",
      source: "env",
      from: "JOBICO_URL",
    });
    assert.equal(shown.token.source, "profile");
    assert.equal(shown.token.value, h.adminToken.slice(0, 8) + "…");
    assert.deepEqual(shown.profile, {
      name: "ci",
      from: `"profile" of ${file}`,
    });
    assert.deepEqual(shown.file, { path: file, exists: true });

    r = await cli("--token", "flag-token-0123456789", "config", "show");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^KEY\s+VALUE\s+FROM\n/);
    assert.match(r.out, new RegExp(`\\nurl\\s+${h.url}\\s+profile "ci"\\n`));
    assert.match(r.out, /\ntoken\s+flag-tok…\s+flag --token\n/);
    assert.match(r.out, /\ntenant\s+\(none\)\s+-\n/);
    r = await cli("config", "show", "--show-token");
    assert.match(r.out, new RegExp(`\\ntoken\\s+${h.adminToken}\\s`));

    r = await cli("config", "set", "tenant", "acme");
    assert.equal(r.out, `Set tenant of profile "ci" in ${file}\n`);
    r = await cli("config", "profiles");
    assert.match(
      r.out,
      new RegExp(`\\*\\s+ci\\s+${h.url}\\s+acme\\s+test-adm…`),
    );
    // The profile's tenant serves the commands that take --tenant.
    const schema = new URL(
      "../../examples/greet/greet.schema.json",
      import.meta.url,
    ).pathname;
    r = await cli("upload-schema", schema);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Uploaded acme\/greet\.schema\.json\n/);
    r = await cli("config", "unset", "tenant");
    assert.equal(r.out, `Removed tenant from profile "ci" in ${file}\n`);
    r = await cli("config", "unset", "tenant");
    assert.equal(r.out, `Profile "ci" has no tenant\n`);
  } finally {
    await h.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: mistakes exit 2 with a hint", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/config.json`;
  try {
    const env = { JOBICO_CONFIG: file };
    let r = await jobico(["--profile", "nope", "status"], { env });
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      `error: Profile "nope" (from --profile) is not in "${file}"\n` +
        "hint: Create it: jobico --profile nope config set url http://127.0.0.1:8080\n",
    );
    r = await jobico(["config", "use", "nope"], { env });
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: Profile "nope" is not in /);
    r = await jobico(["config", "set", "url", "ftp://x"], { env });
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: Invalid platform URL "ftp:\/\/x"\nhint: /);
    await Deno.writeTextFile(file, "{not json");
    r = await jobico(["packages", "list", "demo"], { env });
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /^error: The config file ".*config\.json" is invalid: not valid JSON .*\nhint: Fix it by hand/,
    );
    r = await jobico(["config", "set", "url", "http://x.test"], { env: {} });
    assert.equal(r.code, 2);
    assert.match(r.err, /HOME is not set\nhint: Set JOBICO_CONFIG/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
