import assert from "node:assert/strict";
import { captureIo } from "../_capture_io.ts";
import { run } from "../main.ts";

Deno.test("jobico dashboard without a terminal is a usage mistake (exit 2) with a hint", async () => {
  const io = captureIo({
    fetch: () => Promise.reject(new Error("fetch must not be called")),
  });
  const code = await run(["dashboard"], io);
  assert.equal(code, 2);
  assert.equal(io.out(), "");
  assert.match(
    io.err(),
    /^error: The dashboard needs an interactive terminal\n/,
  );
  assert.match(io.err(), /hint: .*stream-from-recorder --json/);
});

Deno.test("jobico --help lists dashboard", async () => {
  const io = captureIo();
  assert.equal(await run(["--help"], io), 0);
  assert.match(io.out(), /dashboard\s+Open the terminal dashboard/);
});
