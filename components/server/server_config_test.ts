import assert from "node:assert/strict";
import { DomainError, problemResponse } from "@jobico/goico";
import { serverConfig, settingsFromEnv } from "./server_config.ts";
import { SettingError } from "./setting_error.ts";

Deno.test("serverConfig: nothing set gives the defaults", () => {
  assert.deepEqual(serverConfig({}), {
    data: ".jobico",
    logLevel: "info",
    options: { port: 8080, limits: {}, retention: {}, quotas: {} },
  });
});

Deno.test("serverConfig: every setting is read and converted", () => {
  const c = serverConfig({
    JOBICO_PORT: "0",
    JOBICO_HOST: "0.0.0.0",
    JOBICO_DATA: ":memory:",
    JOBICO_KV: "https://kv.example/connect",
    JOBICO_COMPONENTS: "listener, ctl,listener",
    JOBICO_ADMIN_TOKEN: "s3cret-admin-token",
    JOBICO_LOG_LEVEL: "warn",
    JOBICO_ACCESS_LOG: "all",
    JOBICO_WORKERS: "4",
    JOBICO_TENANT_CONCURRENCY: "2",
    JOBICO_TIMEOUT_MS: "250",
    JOBICO_MEMORY_MB: "16",
    JOBICO_FUEL: "1000000",
    JOBICO_RETRIES: "0",
    JOBICO_RETRY_BASE_MS: "50",
    JOBICO_MAX_QUEUE_DEPTH: "10",
    JOBICO_RETENTION_DAYS: "0",
    JOBICO_RETENTION_EXECUTIONS: "500",
    JOBICO_RETENTION_VERSIONS: "3",
    JOBICO_QUOTA_FILES: "20",
    JOBICO_QUOTA_BYTES: "1048576",
    JOBICO_SWEEP_INTERVAL_MS: "0",
    JOBICO_LEASE_MS: "1000",
    JOBICO_MAX_CONNECTIONS: "500",
    JOBICO_HEADER_TIMEOUT_MS: "2000",
    JOBICO_IDLE_TIMEOUT_MS: "3000",
    JOBICO_REQUEST_TIMEOUT_MS: "4000",
  });
  assert.deepEqual(c, {
    data: ":memory:",
    kv: "https://kv.example/connect",
    logLevel: "warn",
    options: {
      port: 0,
      hostname: "0.0.0.0",
      adminToken: "s3cret-admin-token",
      components: ["listener", "ctl"],
      accessLog: "all",
      workers: 4,
      tenantConcurrency: 2,
      retryBaseMs: 50,
      maxQueueDepth: 10,
      leaseMs: 1000,
      limits: { timeoutMs: 250, memoryMb: 16, fuel: 1_000_000, retries: 0 },
      retention: { days: 0, executions: 500, versions: 3 },
      quotas: { files: 20, bytes: 1_048_576 },
      sweepIntervalMs: 0,
      connections: {
        maxConnections: 500,
        headerTimeoutMs: 2000,
        idleTimeoutMs: 3000,
        requestTimeoutMs: 4000,
      },
    },
  });
});

Deno.test("serverConfig: connection settings given alone keep the others' defaults", () => {
  assert.deepEqual(
    serverConfig({ JOBICO_IDLE_TIMEOUT_MS: "100" }).options.connections,
    { idleTimeoutMs: 100 },
  );
  assert.throws(
    () => serverConfig({ JOBICO_MAX_CONNECTIONS: "0" }, "flag"),
    /Invalid --max-connections "0": use a whole number from 1 to 10000000/,
  );
  assert.throws(
    () => serverConfig({ JOBICO_HEADER_TIMEOUT_MS: "soon" }),
    /Invalid JOBICO_HEADER_TIMEOUT_MS "soon"/,
  );
});

Deno.test("serverConfig: a bad setting is the operator's SettingError, never a client's 400", async () => {
  const bad = [
    { JOBICO_PORT: "eighty" },
    { JOBICO_LOG_LEVEL: "loud" },
    { JOBICO_COMPONENTS: "worker" },
    { JOBICO_ADMIN_TOKEN: "short" },
    { JOBICO_SECRET_KEY: "not-a-key" },
  ];
  for (const values of bad) {
    let thrown: unknown;
    try {
      serverConfig(values);
    } catch (err) {
      thrown = err;
    }
    assert.ok(thrown instanceof SettingError, String(thrown));
    assert.ok(!(thrown instanceof DomainError));
    // Were it ever to reach the HTTP edge, it would be the server's 500.
    const res = problemResponse(thrown);
    assert.equal(res.status, 500);
    assert.ok(!(await res.text()).includes(Object.keys(values)[0]));
  }
});

Deno.test("serverConfig: a bad value is named as the user wrote it", () => {
  assert.throws(
    () => serverConfig({ JOBICO_WORKERS: "many" }),
    /^SettingError: Invalid JOBICO_WORKERS "many": use a whole number from 1 to 256$/,
  );
  assert.throws(
    () => serverConfig({ JOBICO_TIMEOUT_MS: "0" }, "flag"),
    /Invalid --timeout-ms "0": use a whole number from 1 to 3600000/,
  );
  assert.throws(
    () => serverConfig({ JOBICO_COMPONENTS: "listener,worker" }, "flag"),
    /Invalid --components "listener,worker": unknown component "worker"; use ctl, repo, listener, executor, recorder/,
  );
  assert.throws(
    () => serverConfig({ JOBICO_RETENTION_VERSIONS: "0" }),
    /^SettingError: Invalid JOBICO_RETENTION_VERSIONS "0": use a whole number from 1 to 10000$/,
  );
  assert.throws(
    () => serverConfig({ JOBICO_QUOTA_BYTES: "1GiB" }, "flag"),
    /^SettingError: Invalid --quota-bytes "1GiB": use a whole number from 0 to 9007199254740991$/,
  );
  assert.throws(
    () => serverConfig({ JOBICO_LOG_LEVEL: "loud" }),
    /Invalid JOBICO_LOG_LEVEL "loud": use debug, info, warn, error/,
  );
  assert.throws(
    () => serverConfig({ JOBICO_LEASE_MS: "50" }, "flag"),
    /Invalid --lease-ms "50": use a whole number from 100 to 3600000/,
  );
});

Deno.test("settingsFromEnv picks only JOBICO_ settings", () => {
  const env: Record<string, string> = { JOBICO_PORT: "1", HOME: "/root" };
  assert.deepEqual(settingsFromEnv((n) => env[n]), { JOBICO_PORT: "1" });
});

Deno.test("serverConfig: the stream limits are read, in KiB for the buffer, and checked", () => {
  assert.deepEqual(
    serverConfig({
      JOBICO_MAX_STREAMS: "20",
      JOBICO_MAX_STREAMS_PER_TENANT: "3",
      JOBICO_STREAM_BUFFER_KB: "64",
    }).options.streams,
    { maxStreams: 20, maxStreamsPerTenant: 3, bufferBytes: 64 * 1024 },
  );
  // One alone leaves the others to their defaults.
  assert.deepEqual(
    serverConfig({ JOBICO_MAX_STREAMS_PER_TENANT: "7" }).options.streams,
    { maxStreamsPerTenant: 7 },
  );
  assert.equal(serverConfig({}).options.streams, undefined);
  assert.throws(
    () => serverConfig({ JOBICO_MAX_STREAMS: "0" }),
    /^SettingError: Invalid JOBICO_MAX_STREAMS "0": use a whole number from 1 to 1000000$/,
  );
  assert.throws(
    () => serverConfig({ JOBICO_STREAM_BUFFER_KB: "1.5" }, "flag"),
    /^SettingError: Invalid --stream-buffer-kb "1.5": use a whole number from 1 to 1048576$/,
  );
});

Deno.test("serverConfig: the access log is all, errors or off, and left to the platform's default when unset", () => {
  for (const mode of ["all", "errors", "off"]) {
    assert.equal(
      serverConfig({ JOBICO_ACCESS_LOG: mode }).options.accessLog,
      mode,
    );
  }
  assert.equal("accessLog" in serverConfig({}).options, false);
  assert.throws(
    () => serverConfig({ JOBICO_ACCESS_LOG: "some" }, "flag"),
    /^SettingError: Invalid --access-log "some": use all, errors, off$/,
  );
});

Deno.test("serverConfig: JOBICO_STORE names a PostgreSQL database, checked and never echoed with its password", () => {
  assert.equal(
    serverConfig({ JOBICO_STORE: "postgres://jobico:pw@db:5432/jobico" })
      .store,
    "postgres://jobico:pw@db:5432/jobico",
  );
  assert.equal(
    serverConfig({ JOBICO_STORE: "postgresql://db/jobico" }, "flag").store,
    "postgresql://db/jobico",
  );
  assert.equal(serverConfig({}).store, undefined);
  assert.throws(
    () => serverConfig({ JOBICO_STORE: "mysql://root:hunter2@db/x" }),
    (err: Error) => {
      assert.equal(
        err.message,
        'Invalid JOBICO_STORE "mysql://root:***@db/x": use a postgres:// or postgresql:// URL',
      );
      return true;
    },
  );
  assert.throws(
    () => serverConfig({ JOBICO_STORE: "postgres://db x" }, "flag"),
    /Invalid --store "postgres:\/\/db x"/,
  );
  assert.throws(
    () =>
      serverConfig({
        JOBICO_STORE: "postgres://db/x",
        JOBICO_KV: ":memory:",
      }, "flag"),
    /Invalid --store: --kv names a Deno KV; name one store, not both/,
  );
});
