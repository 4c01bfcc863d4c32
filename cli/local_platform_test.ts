import assert from "node:assert/strict";
import { silentLogger } from "@jobico/goico";
import { announceLocalPlatform } from "../components/server/announce_local_platform.ts";
import { findLocalPlatforms } from "./local_platform.ts";

/** A data directory as a platform leaves it: its token, and its URL. */
async function platformDir(
  data: string,
  token: string,
  url: string | undefined,
  stateFile: string,
): Promise<void> {
  await Deno.mkdir(data, { recursive: true });
  await Deno.writeTextFile(`${data}/admin-token`, token + "\n");
  if (url) {
    await announceLocalPlatform({ data, url, stateFile, logger: silentLogger });
  }
}

Deno.test("findLocalPlatforms: JOBICO_DATA alone, else ./.jobico, then the platforms started lately", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const env = { XDG_STATE_HOME: `${dir}/state` };
    const stateFile = `${dir}/state/jobico/platforms.json`;
    await platformDir(
      `${dir}/a`,
      "token-a",
      "http://127.0.0.1:8001",
      stateFile,
    );
    await platformDir(
      `${dir}/b`,
      "token-b",
      "http://127.0.0.1:8002",
      stateFile,
    );
    // From a directory of its own: the newest started first.
    await Deno.mkdir(`${dir}/elsewhere`);
    let found = findLocalPlatforms(env, `${dir}/elsewhere`);
    assert.deepEqual(found.map((p) => [p.data, p.url, p.token, p.found]), [
      [`${dir}/b`, "http://127.0.0.1:8002", "token-b", "local platforms file"],
      [`${dir}/a`, "http://127.0.0.1:8001", "token-a", "local platforms file"],
    ]);
    // From a directory holding .jobico (an older platform: no URL file): it first.
    await platformDir(`${dir}/proj/.jobico`, "token-p", undefined, stateFile);
    found = findLocalPlatforms(env, `${dir}/proj`);
    assert.deepEqual(found.map((p) => [p.token, p.url, p.found]), [
      ["token-p", undefined, "./.jobico"],
      ["token-b", "http://127.0.0.1:8002", "local platforms file"],
      ["token-a", "http://127.0.0.1:8001", "local platforms file"],
    ]);
    // JOBICO_DATA, relative to the working directory: that one only.
    found = findLocalPlatforms({ ...env, JOBICO_DATA: "../a" }, `${dir}/proj`);
    assert.deepEqual(found.map((p) => [p.data, p.found]), [
      [`${dir}/a`, "JOBICO_DATA"],
    ]);
    assert.deepEqual(
      findLocalPlatforms({ ...env, JOBICO_DATA: ":memory:" }, dir),
      [],
    );
    assert.deepEqual(
      findLocalPlatforms({ ...env, JOBICO_DATA: `${dir}/none` }, dir),
      [],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findLocalPlatforms passes over listed platforms whose directory is gone or names another URL", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const env = { XDG_STATE_HOME: `${dir}/state` };
    const stateFile = `${dir}/state/jobico/platforms.json`;
    await platformDir(
      `${dir}/old`,
      "token-old",
      "http://127.0.0.1:8001",
      stateFile,
    );
    await platformDir(
      `${dir}/gone`,
      "token-g",
      "http://127.0.0.1:8002",
      stateFile,
    );
    await platformDir(
      `${dir}/moved`,
      "token-m",
      "http://127.0.0.1:8003",
      stateFile,
    );
    // A test's directory removed; another reused by a platform not listed.
    await Deno.remove(`${dir}/gone`, { recursive: true });
    await Deno.writeTextFile(`${dir}/moved/url`, "http://127.0.0.1:9999\n");
    const found = findLocalPlatforms(env, dir);
    assert.deepEqual(found.map((p) => p.token), ["token-old"]);
    // No state at all: nothing, and no error.
    assert.deepEqual(findLocalPlatforms({}, `${dir}/state`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
