import assert from "node:assert/strict";
import { TooLargeError, ValidationError } from "@jobico/goico";
import { checkUpload } from "./check_upload.ts";
import { UploadChecker } from "./upload_checker.ts";

const json = (doc: unknown) => new TextEncoder().encode(JSON.stringify(doc));
/** A schema at the limits: about a fifth of a second of Ajv. */
const heavy = json({
  type: "object",
  properties: Object.fromEntries(
    Array.from({ length: 498 }, (_, i) => [`p${i}`, {
      type: "string",
      minLength: i % 7,
      maxLength: 100 + i,
    }]),
  ),
});

Deno.test("UploadChecker: the same answers as checking in process, errors and their details kept", async () => {
  // Every upload in the Worker, however small.
  const checker = new UploadChecker({ inProcessBytes: { schema: 0, wasm: 0 } });
  try {
    await checker.check("schema", "ok.json", json({ type: "object" }), 128);
    const bad = json({ properties: { a: { pattern: "(a)\\1" } } });
    const inProcess = await checkUpload("schema", "bad.json", bad, 128).then(
      () => assert.fail("accepted"),
      (err) => err,
    );
    const inWorker = await checker.check("schema", "bad.json", bad, 128).then(
      () => assert.fail("accepted"),
      (err) => err,
    );
    assert.ok(inWorker instanceof ValidationError);
    assert.equal(inWorker.message, inProcess.message);
    assert.deepEqual(inWorker.extra, inProcess.extra);
    const notWasm = await checker.check(
      "wasm",
      "x.wasm",
      new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 99]),
      128,
    ).then(() => assert.fail("accepted"), (err) => err);
    assert.equal(
      notWasm.message,
      'File "x.wasm" is not a valid WebAssembly module',
    );
    assert.ok(!(notWasm instanceof TooLargeError));
  } finally {
    checker.close();
  }
});

Deno.test("UploadChecker: the main isolate keeps running while a costly schema is checked", async () => {
  const checker = new UploadChecker();
  try {
    assert.ok(heavy.length > 2048);
    // The Worker started (a small upload would be checked in place).
    await checker.check("schema", "warm.json", heavy, 128);
    const order: string[] = [];
    const check = checker.check("schema", "heavy.json", heavy, 128).then(
      () => order.push("checked"),
    );
    setTimeout(() => order.push("timer"), 0);
    await check;
    await new Promise((r) => setTimeout(r, 10));
    // In this isolate the compile would have run before the timer.
    assert.deepEqual(order, ["timer", "checked"]);
  } finally {
    checker.close();
  }
});

Deno.test("UploadChecker: a check past its time is refused naming the file; a closed checker refuses", async () => {
  const checker = new UploadChecker({ timeoutMs: 1 });
  try {
    await assert.rejects(
      () => checker.check("schema", "heavy.json", heavy, 128),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.message ===
          'Schema "heavy.json" took longer than 0.001 s to check: it is too large or too complex',
    );
  } finally {
    checker.close();
  }
  const patient = new UploadChecker();
  try {
    await patient.check("schema", "heavy.json", heavy, 128);
  } finally {
    patient.close();
  }
  await assert.rejects(
    () => patient.check("schema", "late.json", json({}), 128),
    /closed/,
  );
});
