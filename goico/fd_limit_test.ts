import assert from "node:assert/strict";
import { ASSUMED_FD_LIMIT, fdLimit, maxConnectionsFor } from "./fd_limit.ts";

Deno.test("maxConnectionsFor leaves a tenth of the limit, at least 128, for the rest", () => {
  assert.equal(maxConnectionsFor(1024), 896);
  assert.equal(maxConnectionsFor(), maxConnectionsFor(ASSUMED_FD_LIMIT));
  assert.equal(maxConnectionsFor(4096), 3686);
  assert.equal(maxConnectionsFor(1_048_576), 943_718);
  assert.equal(maxConnectionsFor(100), 16);
});

Deno.test({
  name:
    "fdLimit: without --allow-ffi the limit is unknown, and no permission is asked for",
  ignore: Deno.permissions.querySync({ name: "ffi" }).state === "granted",
  fn() {
    assert.equal(fdLimit(), undefined);
  },
});

Deno.test({
  name:
    "fdLimit: with --allow-ffi it reads the limit, the soft one raised to the hard one",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const code = `
      import { fdLimit } from ${
      JSON.stringify(new URL("./fd_limit.ts", import.meta.url).href)
    };
      console.log(JSON.stringify(fdLimit()));`;
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        'ulimit -n 600 && ulimit -Sn 300 && exec "$0" "$@"',
        Deno.execPath(),
        "eval",
        "--allow-ffi",
        code,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(text), { soft: 600, hard: 600 });
  },
});
