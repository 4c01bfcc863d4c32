import assert from "node:assert/strict";
import { startHarness } from "../../tests/_harness.ts";
import { captureIo, type CaptureOptions } from "../_capture_io.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

Deno.test("platform: tenant create, list, rotate-token, webhook-secret and delete", async () => {
  const h = await startHarness();
  try {
    const admin = (...args: string[]) =>
      jobico(["--url", h.url, "--token", h.adminToken, ...args]);
    let r = await admin("tenant", "create", "acme");
    assert.equal(r.code, 0, r.err);
    const [created, tokenLine] = r.out.trimEnd().split("\n");
    assert.equal(created, "Created tenant acme");
    const token = tokenLine.replace(/^token\s+/, "");
    assert.match(token, /^jbt_/);
    assert.match(r.err, /cannot be shown again/);

    r = await admin("tenant", "create", "acme");
    assert.equal(r.code, 1);
    assert.match(r.err, /Tenant "acme" already exists/);
    r = await admin("tenant", "create", "../etc");
    assert.equal(r.code, 1);
    assert.match(r.err, /Invalid tenant "..\/etc"/);

    // The tenant's own token: it sees itself only, cannot create tenants.
    const asAcme = (...args: string[]) =>
      jobico(["tenant", ...args], {
        env: { JOBICO_URL: h.url, JOBICO_TOKEN: token },
      });
    r = await asAcme("list", "--json");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      JSON.parse(r.out).tenants.map((t: { id: string }) => t.id),
      ["acme"],
    );
    r = await asAcme("create", "other");
    assert.equal(r.code, 1);
    assert.match(r.err, /Only the admin token can create tenants.*HTTP 403/);
    r = await asAcme("webhook-secret", "acme");
    assert.equal(r.code, 0, r.err);
    const secret = r.out.trim();
    assert.match(secret, /^whsec_/);
    r = await asAcme("webhook-secret", "acme", "--rotate", "--json");
    const rotated = JSON.parse(r.out);
    assert.notEqual(rotated.secret, secret);
    assert.equal(rotated.previous.secret, secret);

    r = await admin("tenant", "rotate-token", "acme", "--json");
    assert.equal(r.code, 0, r.err);
    const next = JSON.parse(r.out).token;
    r = await asAcme("list");
    assert.equal(r.code, 1, "the old token stopped working");
    assert.match(r.err, /HTTP 401/);

    r = await admin("tenant", "list");
    assert.match(r.out, /^ID\s+CREATED\s+TOKEN\nacme\s+\S+ \S+\s+since /);
    r = await admin("tenant", "delete", "acme", "--yes");
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "Deleted tenant acme\n");
    r = await jobico(["--url", h.url, "--token", next, "tenant", "list"]);
    assert.equal(r.code, 1);
    r = await admin("tenant", "list", "--json");
    assert.deepEqual(JSON.parse(r.out), { tenants: [] });
  } finally {
    await h.close();
  }
});

Deno.test("a platform on this machine: the CLI falls back to the admin token it wrote", async () => {
  const h = await startHarness();
  try {
    const io = captureIo({ env: { JOBICO_URL: h.url } });
    io.localPlatforms = () => [
      { data: "/srv/jobico", token: h.adminToken, found: "./.jobico" },
    ];
    assert.equal(await run(["tenant", "list", "--json"], io), 0, io.err());
    // Not for a remote URL: the local token is never sent elsewhere.
    let asked = false;
    const remote = captureIo({
      env: { JOBICO_URL: "http://example.invalid:1" },
      fetch: (_input, init) => {
        asked = true;
        assert.equal(new Headers(init?.headers).get("authorization"), null);
        return Promise.resolve(new Response("{}", { status: 401 }));
      },
    });
    remote.localPlatforms = io.localPlatforms;
    assert.equal(await run(["tenant", "list"], remote), 1);
    assert.ok(asked);
  } finally {
    await h.close();
  }
});

Deno.test("platform: tenant show and set: retention, quotas and usage; 'default' gives a setting back", async () => {
  const h = await startHarness({ sweepIntervalMs: 0 });
  try {
    const admin = (...args: string[]) =>
      jobico(["--url", h.url, "--token", h.adminToken, ...args]);
    let r = await admin("tenant", "create", "acme");
    const token = r.out.trimEnd().split("\n")[1].replace(/^token\s+/, "");
    await h.upload("acme", "a.json", '{"description": "a"}');

    r = await admin("tenant", "show", "acme");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^tenant\s+acme\n/);
    assert.match(
      r.out,
      /\nretention\s+executions: 7 days, at most 100,000; versions: 10 per package, and those queued events use\n/,
    );
    assert.match(r.out, /\nquotas\s+1,000 files and 1\.0 GiB\n/);
    assert.match(r.out, /\nfiles\s+1 of 1,000\n/);
    assert.match(r.out, /\nbytes\s+20 B of 1\.0 GiB\n/);
    assert.match(r.out, /\nown settings\s+none\n/);

    r = await admin(
      "tenant",
      "set",
      "acme",
      "--retention-days",
      "30",
      "--retention-versions",
      "3",
      "--quota-bytes",
      "256MiB",
      "--json",
    );
    assert.equal(r.code, 0, r.err);
    let t = JSON.parse(r.out);
    assert.deepEqual(t.retention, {
      days: 30,
      executions: 100_000,
      versions: 3,
    });
    assert.deepEqual(t.quotas, {
      files: 1000,
      bytes: 256 * 1024 ** 2,
      maxConcurrency: 0,
    });
    assert.deepEqual(t.settings, {
      retention: { days: 30, versions: 3 },
      quotas: { bytes: 256 * 1024 ** 2 },
    });
    assert.deepEqual(t.usage, {
      files: 1,
      bytes: 20,
      versions: 0,
      executions: 0,
    });

    r = await admin("tenant", "set", "acme", "--retention-days", "default");
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /\nown settings\s+retention\.versions=3, quotas\.bytes=268435456\n/,
    );

    // Mistakes: exit 2 naming the flag; the platform's refusals: exit 1.
    r = await admin("tenant", "set", "acme");
    assert.equal(r.code, 2);
    assert.match(r.err, /Name at least one setting: --retention-days/);
    r = await admin("tenant", "set", "acme", "--quota-bytes", "lots");
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /Invalid --quota-bytes "lots": use a whole number of bytes \(or with KiB, MiB, GiB, TiB\), or default/,
    );
    r = await admin("tenant", "set", "acme", "--retention-days", "2GiB");
    assert.equal(r.code, 2);
    r = await admin("tenant", "set", "acme", "--retention-versions", "0");
    assert.equal(r.code, 1);
    assert.match(r.err, /Invalid "retention.versions" 0.*HTTP 400/);
    r = await admin("tenant", "set", "nobody", "--quota-files", "1");
    assert.equal(r.code, 1);
    assert.match(r.err, /Unknown tenant "nobody".*HTTP 404/);

    // A tenant sees its own settings and usage, and cannot change them.
    const asAcme = (...args: string[]) =>
      jobico(["tenant", ...args], {
        env: { JOBICO_URL: h.url, JOBICO_TOKEN: token },
      });
    r = await asAcme("show", "acme", "--json");
    assert.equal(r.code, 0, r.err);
    t = JSON.parse(r.out);
    assert.equal(t.retention.versions, 3);
    r = await asAcme("set", "acme", "--quota-files", "100000");
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /Only the admin token can change a tenant's retention and quotas.*HTTP 403/,
    );
  } finally {
    await h.close();
  }
});

Deno.test("platform: a created tenant lists empty queues and packages; an unknown one exits 1 everywhere", async () => {
  const h = await startHarness();
  try {
    const admin = (...args: string[]) =>
      jobico(["--url", h.url, "--token", h.adminToken, ...args]);
    assert.equal((await admin("tenant", "create", "acme")).code, 0);
    for (const group of ["queues", "packages", "files", "executions"]) {
      const r = await admin(group, "list", "acme");
      assert.equal(r.code, 0, `${group}: ${r.err}`);
      assert.match(r.out, /^No /, group);
      const ghost = await admin(group, "list", "nosuchtenant");
      assert.equal(ghost.code, 1, group);
      assert.equal(ghost.out, "", group);
      assert.equal(
        ghost.err,
        'error: Not found: Unknown tenant "nosuchtenant" (HTTP 404)\n' +
          "hint: List the tenants: jobico tenant list\n",
        group,
      );
    }
  } finally {
    await h.close();
  }
});
