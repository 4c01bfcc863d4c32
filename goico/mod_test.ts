import assert from "node:assert/strict";
import * as goico from "./mod.ts";

Deno.test("mod.ts exports the framework's runtime values", () => {
  const expected = [
    "BlobStore",
    "DEFAULT_SSE_BUFFER_BYTES",
    "SseChannel",
    "SseCutError",
    "ChangeFeed",
    "ConflictError",
    "ForbiddenError",
    "DurableQueue",
    "GroupCommit",
    "GuestSetupError",
    "HttpError",
    "MemoryLimitError",
    "MeterError",
    "ModuleCache",
    "NotFoundError",
    "PayloadTooLargeError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UnprocessableError",
    "ValidationError",
    "WasmGuest",
    "WasmPool",
    "deletePrefixes",
    "encodeSse",
    "formatImportList",
    "formatSse",
    "jsonLogger",
    "meterFuel",
    "monotonicId",
    "monotonicIdFactory",
    "onShutdownSignal",
    "openKv",
    "openKvAt",
    "problemBody",
    "problemResponse",
    "serve",
    "serviceApp",
    "sha256Hex",
    "silentLogger",
    "sseResponse",
    "unprovidedImports",
  ];
  assert.deepEqual(Object.keys(goico).sort(), [...expected].sort());
  for (const name of expected) {
    assert.notEqual((goico as Record<string, unknown>)[name], undefined, name);
  }
  assert.ok(new goico.ValidationError("x") instanceof goico.HttpError);
});
