import assert from "node:assert/strict";
import * as goico from "./mod.ts";

Deno.test("mod.ts exports the framework's runtime values", () => {
  const expected = [
    "ASSUMED_FD_LIMIT",
    "BlobStore",
    "ChangeFeed",
    "ConflictError",
    "DEFAULT_CONNECTION_TIMEOUTS",
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
    "chunkedBody",
    "connectionLimits",
    "deletePrefixes",
    "fdLimit",
    "formatImportList",
    "formatSse",
    "jsonLogger",
    "maxConnectionsFor",
    "meterFuel",
    "monotonicId",
    "monotonicIdFactory",
    "onShutdownSignal",
    "openKv",
    "openKvAt",
    "problemBody",
    "problemResponse",
    "serve",
    "serveGuarded",
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
