import assert from "node:assert/strict";
import { UsageError } from "./cli_error.ts";
import { configPath } from "./config_file.ts";
import type { LocalPlatform } from "./local_platform.ts";
import { DEFAULT_URL, resolveSettings } from "./settings.ts";
import { ENV_NAMES } from "./terminal_io.ts";

async function withConfig(
  content: unknown,
  fn: (path: string) => void | Promise<void>,
): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      path,
      typeof content === "string" ? content : JSON.stringify(content),
    );
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

const FILE = {
  profile: "team",
  profiles: {
    team: { url: "http://team.test:1", token: "team-token", tenant: "acme" },
    prod: { url: "https://prod.test", token: "prod-token" },
    local: { url: "http://127.0.0.1:9999" },
  },
};

Deno.test("settings: flags, then environment, then the profile, then the default", async () => {
  await withConfig(FILE, (path) => {
    const env = { JOBICO_CONFIG: path };
    let s = resolveSettings({ flags: {}, env });
    assert.deepEqual(s.url, {
      value: "http://team.test:1",
      source: "profile",
      from: 'profile "team"',
    });
    assert.equal(s.token?.value, "team-token");
    assert.equal(s.tenant?.value, "acme");
    assert.deepEqual(s.profile, {
      name: "team",
      from: `"profile" of ${path}`,
    });

    s = resolveSettings({
      flags: {},
      env: { ...env, JOBICO_URL: "http://env.test", JOBICO_TENANT: "t2" },
    });
    assert.deepEqual(s.url, {
      value: "http://env.test",
      source: "env",
      from: "JOBICO_URL",
    });
    assert.equal(
      s.token?.source,
      "profile",
      "the token still from the profile",
    );
    assert.equal(s.tenant?.value, "t2");

    s = resolveSettings({
      flags: { url: "http://flag.test", token: "flag-token", tenant: "t3" },
      env: { ...env, JOBICO_URL: "http://env.test", JOBICO_TOKEN: "env" },
    });
    assert.equal(s.url.from, "--url");
    assert.equal(s.token?.value, "flag-token");
    assert.equal(s.tenant?.from, "--tenant");

    // --profile beats JOBICO_PROFILE, which beats the file's "profile".
    s = resolveSettings({
      flags: { profile: "prod" },
      env: { ...env, JOBICO_PROFILE: "local" },
    });
    assert.equal(s.url.value, "https://prod.test");
    assert.equal(s.profile?.from, "--profile");
    s = resolveSettings({
      flags: {},
      env: { ...env, JOBICO_PROFILE: "local" },
    });
    assert.equal(s.url.value, "http://127.0.0.1:9999");
    assert.equal(s.tenant, undefined);
  });
  const none = resolveSettings({ flags: {}, env: {} });
  assert.deepEqual(none.url, {
    value: DEFAULT_URL,
    source: "default",
    from: "the default",
  });
  assert.equal(none.token, undefined);
  assert.equal(none.file, undefined);
});

Deno.test("settings: the admin token file only for this machine, and only when nothing else gives a token", async () => {
  const localPlatforms = () => [
    {
      data: "/srv/jobico",
      token: "local-admin",
      found: "JOBICO_DATA" as const,
    },
  ];
  await withConfig(FILE, (path) => {
    // The profile "local" points at this machine and has no token.
    const local = resolveSettings({
      flags: { profile: "local" },
      env: { JOBICO_CONFIG: path, JOBICO_DATA: "/srv/jobico" },
      localPlatforms,
    });
    assert.deepEqual(local.token, {
      value: "local-admin",
      source: "admin token file",
      from: "/srv/jobico/admin-token",
    });
    // A profile's token wins over the file.
    const team = resolveSettings({
      flags: { profile: "team", url: "http://localhost:8080" },
      env: { JOBICO_CONFIG: path },
      localPlatforms,
    });
    assert.equal(team.token?.value, "team-token");
    // Never for a remote URL.
    const remote = resolveSettings({
      flags: { url: "http://example.test" },
      env: {},
      localPlatforms,
    });
    assert.equal(remote.token, undefined);
  });
});

Deno.test("settings: with no profile named, the one called default applies", async () => {
  await withConfig(
    { profiles: { default: { url: "http://d.test" }, other: {} } },
    (path) => {
      const s = resolveSettings({ flags: {}, env: { JOBICO_CONFIG: path } });
      assert.equal(s.url.value, "http://d.test");
      assert.deepEqual(s.profile, {
        name: "default",
        from: "the default profile",
      });
    },
  );
});

Deno.test("settings: a missing profile or an invalid file is a usage mistake", async () => {
  await withConfig(FILE, (path) => {
    assert.throws(
      () =>
        resolveSettings({
          flags: { profile: "nope" },
          env: { JOBICO_CONFIG: path },
        }),
      (e: unknown) =>
        e instanceof UsageError && e.exitCode === 2 &&
        e.message === `Profile "nope" (from --profile) is not in "${path}"` &&
        e.hint === "Known profiles: team, prod, local",
    );
  });
  for (
    const [content, why] of [
      ["{nope", /not valid JSON/],
      ["[]", /not a JSON object/],
      [
        '{"profiles": {"a": {"url": 1}}}',
        /"url" of profile "a" is not a string/,
      ],
      ['{"profiles": {"a": {"colour": "x"}}}', /unknown key "colour"/],
    ] as const
  ) {
    await withConfig(content, (path) => {
      assert.throws(
        () => resolveSettings({ flags: {}, env: { JOBICO_CONFIG: path } }),
        (e: unknown) =>
          e instanceof UsageError && why.test(e.message) &&
          e.message.includes(path),
      );
    });
  }
  // A file that does not exist is no file.
  const s = resolveSettings({
    flags: {},
    env: { JOBICO_CONFIG: "/nonexistent/jobico.json" },
  });
  assert.deepEqual(s.file, {
    path: "/nonexistent/jobico.json",
    exists: false,
    config: undefined,
  });
});

Deno.test("configPath: JOBICO_CONFIG, XDG_CONFIG_HOME, HOME", () => {
  assert.equal(configPath({ JOBICO_CONFIG: "/a.json", HOME: "/h" }), "/a.json");
  assert.equal(
    configPath({ XDG_CONFIG_HOME: "/x", HOME: "/h" }),
    "/x/jobico/config.json",
  );
  assert.equal(configPath({ HOME: "/h" }), "/h/.config/jobico/config.json");
  assert.equal(configPath({}), undefined);
});

Deno.test("the terminal's environment has every variable the CLI reads", async () => {
  // A variable read as env.X but not fetched by terminalIo would silently
  // never work outside the tests.
  const used = new Set<string>();
  for await (const entry of Deno.readDir(new URL("./", import.meta.url))) {
    await collect(new URL(entry.name, new URL("./", import.meta.url)), entry);
  }
  async function collect(url: URL, entry: Deno.DirEntry) {
    if (entry.isDirectory) {
      if (entry.name === "dashboard") return; // another command's own
      for await (const e of Deno.readDir(url)) {
        await collect(new URL(`${url.href}/${e.name}`), e);
      }
      return;
    }
    if (!/\.ts$/.test(entry.name) || /_test\.ts$/.test(entry.name)) return;
    const text = await Deno.readTextFile(url);
    // `env.NAME`, and names passed as strings (`pick(..., "JOBICO_URL", ...)`).
    for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) used.add(m[1]);
    for (const m of text.matchAll(/"(JOBICO_[A-Z0-9_]+)"/g)) used.add(m[1]);
  }
  assert.ok(used.has("JOBICO_TENANT") && used.has("JOBICO_WEBHOOK_SECRET"));
  for (const name of used) {
    assert.ok(ENV_NAMES.includes(name), `terminalIo does not read ${name}`);
  }
});

Deno.test("settings: a local platform gives the URL when nothing else does, JOBICO_PORT first", () => {
  const a = {
    data: "/home/u/proj/.jobico",
    url: "http://127.0.0.1:8123",
    token: "token-a",
    found: "local platforms file" as const,
  };
  const localPlatforms = () => [a];
  let s = resolveSettings({ flags: {}, env: {}, localPlatforms });
  assert.deepEqual(s.url, {
    value: "http://127.0.0.1:8123",
    source: "local platform",
    from: "/home/u/proj/.jobico/url",
  });
  assert.deepEqual(s.token, {
    value: "token-a",
    source: "admin token file",
    from: "/home/u/proj/.jobico/admin-token",
  });
  // JOBICO_PORT (and JOBICO_HOST) name the platform `deno task dev` starts.
  s = resolveSettings({ flags: {}, env: { JOBICO_PORT: "9001" } });
  assert.deepEqual(s.url, {
    value: "http://127.0.0.1:9001",
    source: "local platform",
    from: "JOBICO_PORT",
  });
  for (
    const [host, url] of [
      ["0.0.0.0", "http://127.0.0.1:9001"],
      ["::", "http://[::1]:9001"],
      ["localhost", "http://localhost:9001"],
      ["::1", "http://[::1]:9001"],
    ]
  ) {
    s = resolveSettings({
      flags: {},
      env: { JOBICO_PORT: "9001", JOBICO_HOST: host },
    });
    assert.equal(s.url.value, url, host);
  }
  // Port 0 says nothing of the port: the platform's own file does.
  s = resolveSettings({ flags: {}, env: { JOBICO_PORT: "0" }, localPlatforms });
  assert.equal(s.url.value, "http://127.0.0.1:8123");
  // A URL given wins over all of them.
  s = resolveSettings({
    flags: {},
    env: { JOBICO_URL: "http://127.0.0.1:7000", JOBICO_PORT: "9001" },
    localPlatforms,
  });
  assert.equal(s.url.value, "http://127.0.0.1:7000");
  // Nothing: the default, and the local platforms are not even read.
  let read = false;
  s = resolveSettings({
    flags: { url: "http://127.0.0.1:7000", token: "t" },
    env: {},
    localPlatforms: () => {
      read = true;
      return [a];
    },
  });
  assert.equal(read, false);
  assert.equal(resolveSettings({ flags: {}, env: {} }).url.value, DEFAULT_URL);
});

Deno.test("settings: an admin token goes only to the platform that wrote it, or to the data directory named", () => {
  const listed = {
    data: "/tmp/x/.jobico",
    url: "http://127.0.0.1:8123",
    token: "token-listed",
    found: "local platforms file" as const,
  };
  const here = {
    data: "/w/.jobico",
    url: "http://127.0.0.1:8080",
    token: "token-here",
    found: "./.jobico" as const,
  };
  const token = (url: string, locals: LocalPlatform[]) =>
    resolveSettings({ flags: { url }, env: {}, localPlatforms: () => locals })
      .token?.value;
  // The platform whose URL it is.
  assert.equal(token("http://127.0.0.1:8123", [here, listed]), "token-listed");
  assert.equal(token("http://127.0.0.1:8080/", [here, listed]), "token-here");
  // Another process of the platform of ./.jobico (or JOBICO_DATA): its token.
  assert.equal(token("http://127.0.0.1:8081", [here, listed]), "token-here");
  // A listed platform never lends its token to another local port.
  assert.equal(token("http://127.0.0.1:8081", [listed]), undefined);
  // Nor does any platform to a remote URL.
  assert.equal(token("http://example.test:8123", [here, listed]), undefined);
});

Deno.test("settings: attack: a .jobico/url naming another host is passed over, so the token given does not go there", () => {
  const planted = {
    data: "/home/u/cloned-repo/.jobico",
    url: "https://collector.example",
    found: "./.jobico" as const,
  };
  const s = resolveSettings({
    flags: {},
    env: { JOBICO_TOKEN: "the-real-token" },
    localPlatforms: () => [planted],
  });
  assert.equal(s.url.value, DEFAULT_URL);
  assert.equal(s.token?.value, "the-real-token");
  // A loopback one further down the list is taken instead.
  const local = {
    data: "/home/u/proj/.jobico",
    url: "http://127.0.0.1:8123",
    found: "local platforms file" as const,
  };
  assert.equal(
    resolveSettings({
      flags: {},
      env: {},
      localPlatforms: () => [planted, local],
    })
      .url.value,
    "http://127.0.0.1:8123",
  );
});
