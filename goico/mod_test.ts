import assert from "node:assert/strict";
import * as goico from "./mod.ts";

Deno.test("mod.ts exports the framework's runtime values", () => {
  const expected = [
    "BlobStore",
    "ChangeFeed",
    "ConflictError",
    "ForbiddenError",
    "DurableQueue",
    "GroupCommit",
    "GuestSetupError",
    "MAX_ITEM_BYTES",
    "HttpError",
    "KvLease",
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
    "formatImportList",
    "formatSse",
    "jsonLogger",
    "kvValueSize",
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
    "STORE_RETRY_AFTER_S",
    "SealError",
    "SecretBox",
    "StoreHealth",
    "StoreUnavailableError",
    "ensurePrivateDir",
    "ensurePrivateFile",
    "formatSecretKey",
    "newSecretKey",
    "parseSecretKey",
    "storeFailure",
    "withDefaults",
  ];
  assert.deepEqual(Object.keys(goico).sort(), [...expected].sort());
  for (const name of expected) {
    assert.notEqual((goico as Record<string, unknown>)[name], undefined, name);
  }
  assert.ok(new goico.ValidationError("x") instanceof goico.HttpError);
});
