import assert from "node:assert/strict";
import { silentLogger } from "@jobico/goico";
import {
  announceLocalPlatform,
  localPlatformsFile,
  localUrl,
  MAX_ANNOUNCED,
  platformUrlFile,
  readAnnouncedPlatforms,
} from "./announce_local_platform.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "jobico-announce-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("localPlatformsFile: XDG_STATE_HOME, else ~/.local/state, else none", () => {
  assert.equal(
    localPlatformsFile({ XDG_STATE_HOME: "/s/", HOME: "/h" }),
    "/s/jobico/platforms.json",
  );
  assert.equal(
    localPlatformsFile({ HOME: "/h" }),
    "/h/.local/state/jobico/platforms.json",
  );
  assert.equal(localPlatformsFile({}), undefined);
});

Deno.test("localUrl: a wildcard address becomes loopback", () => {
  assert.equal(localUrl("http://0.0.0.0:8080"), "http://127.0.0.1:8080");
  assert.equal(localUrl("http://[::]:8080"), "http://[::1]:8080");
  assert.equal(localUrl("http://127.0.0.1:1"), "http://127.0.0.1:1");
});

Deno.test("a platform writes <data>/url and goes first in the state file, both 0600", async () => {
  await withDir(async (dir) => {
    const stateFile = `${dir}/state/jobico/platforms.json`;
    let t = Date.parse("2026-01-01T00:00:00Z");
    const announce = (data: string, url: string) =>
      announceLocalPlatform({
        data,
        url,
        stateFile,
        logger: silentLogger,
        now: () => t++,
      });
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await announce(`${dir}/a`, "http://0.0.0.0:8080");
    await announce(`${dir}/b`, "http://127.0.0.1:9000");
    assert.equal(
      await Deno.readTextFile(platformUrlFile(`${dir}/a`)),
      "http://127.0.0.1:8080\n",
    );
    for (const f of [platformUrlFile(`${dir}/a`), stateFile]) {
      assert.equal((await Deno.stat(f)).mode! & 0o777, 0o600, f);
    }
    assert.equal(
      (await Deno.stat(`${dir}/state/jobico`)).mode! & 0o777,
      0o700,
    );
    let list = readAnnouncedPlatforms(stateFile);
    assert.deepEqual(list.map((p) => [p.data, p.url]), [
      [`${dir}/b`, "http://127.0.0.1:9000"],
      [`${dir}/a`, "http://127.0.0.1:8080"],
    ]);
    assert.equal(list[0].pid, Deno.pid);
    // Started again: one entry per data directory, the newest first.
    await announce(`${dir}/a`, "http://127.0.0.1:8081");
    list = readAnnouncedPlatforms(stateFile);
    assert.deepEqual(list.map((p) => p.url), [
      "http://127.0.0.1:8081",
      "http://127.0.0.1:9000",
    ]);
  });
});

Deno.test("the state file keeps the last platforms only, and an unreadable one is replaced", async () => {
  await withDir(async (dir) => {
    const stateFile = `${dir}/platforms.json`;
    await Deno.writeTextFile(stateFile, "not json");
    assert.deepEqual(readAnnouncedPlatforms(stateFile), []);
    for (let i = 0; i < MAX_ANNOUNCED + 5; i++) {
      await Deno.mkdir(`${dir}/d${i}`);
      await announceLocalPlatform({
        data: `${dir}/d${i}`,
        url: `http://127.0.0.1:${9000 + i}`,
        stateFile,
        logger: silentLogger,
      });
    }
    const list = readAnnouncedPlatforms(stateFile);
    assert.equal(list.length, MAX_ANNOUNCED);
    assert.equal(list[0].data, `${dir}/d${MAX_ANNOUNCED + 4}`);
  });
});

Deno.test("a relative data directory is recorded absolute; a state file that cannot be written is logged, not thrown", async () => {
  await withDir(async (dir) => {
    const warned: string[] = [];
    const logger = { ...silentLogger, warn: (msg: string) => warned.push(msg) };
    await Deno.mkdir(`${dir}/rel`);
    // A file where the state directory should be: it cannot be made.
    await Deno.writeTextFile(`${dir}/blocker`, "");
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      await announceLocalPlatform({
        data: "rel",
        url: "http://127.0.0.1:1",
        stateFile: `${dir}/state/platforms.json`,
        logger,
      });
      await announceLocalPlatform({
        data: "rel",
        url: "http://127.0.0.1:1",
        stateFile: `${dir}/blocker/jobico/platforms.json`,
        logger,
      });
    } finally {
      Deno.chdir(cwd);
    }
    assert.deepEqual(
      readAnnouncedPlatforms(`${dir}/state/platforms.json`).map((p) => p.data),
      [`${await Deno.realPath(dir)}/rel`],
    );
    assert.equal(
      await Deno.readTextFile(`${dir}/rel/url`),
      "http://127.0.0.1:1\n",
    );
    assert.deepEqual(warned, [
      "cannot record the platform in the local platforms file",
    ]);
  });
});
