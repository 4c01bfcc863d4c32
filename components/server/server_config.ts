/**
 * The server's settings, read from JOBICO_* variables (main.ts) or from the
 * flags of `jobico serve`, which are mapped onto the same names so both
 * check and explain them the same way.
 */
import { ACCESS_LOGS, type AccessLog, type LogLevel } from "@jobico/goico";
import { SettingError } from "./setting_error.ts";
import { MIN_ADMIN_TOKEN } from "./admin_token.ts";
import { checkSecretKey } from "./secret_key.ts";
import { type Component, COMPONENTS, type ServeOptions } from "../platform.ts";

/** Every setting: its variable, its `jobico serve` flag and what it means. */
export const SETTINGS = {
  JOBICO_PORT: ["--port", "port to listen on, 0 for any (default 8080)"],
  JOBICO_HOST: ["--host", "address to listen on (default 127.0.0.1)"],
  JOBICO_DATA: [
    "--data",
    "data directory, :memory:, or a KV Connect URL (default .jobico)",
  ],
  JOBICO_KV: [
    "--kv",
    "the Deno KV: a KV Connect URL (token in DENO_KV_ACCESS_TOKEN), a SQLite file or :memory: (default <data>/kv.sqlite3)",
  ],
  JOBICO_STORE: [
    "--store",
    "a postgres:// URL: everything in that PostgreSQL database, which several nodes can share (default: the Deno KV of --data / --kv)",
  ],
  JOBICO_COMPONENTS: [
    "--components",
    `components to run, comma separated: ${COMPONENTS.join(",")} (default all)`,
  ],
  JOBICO_ADMIN_TOKEN: [
    "--admin-token",
    "admin token, 16 characters or more (default: generated into <data>/admin-token)",
  ],
  JOBICO_SECRET_KEY: [
    "--secret-key",
    "key sealing webhook secrets at rest, 64 hex digits (default: generated into <data>/secret-key)",
  ],
  JOBICO_LOG_LEVEL: [
    "--log-level",
    "debug, info, warn or error (default info)",
  ],
  JOBICO_ACCESS_LOG: [
    "--access-log",
    "which requests get a log line: all, errors (answered 400 or more, or slower than 1 s) or off (default errors)",
  ],
  JOBICO_WORKERS: [
    "--workers",
    "sandbox Workers that run Jobicolets (default: the machine's cores)",
  ],
  JOBICO_TENANT_CONCURRENCY: [
    "--tenant-concurrency",
    "Workers one tenant may hold at once (default workers - 1, at least 1)",
  ],
  JOBICO_TIMEOUT_MS: [
    "--timeout-ms",
    "default wall-clock limit of an execution (default 5000)",
  ],
  JOBICO_MEMORY_MB: [
    "--memory-mb",
    "default memory limit of a Jobicolet in MiB (default 128)",
  ],
  JOBICO_FUEL: [
    "--fuel",
    "default instruction budget of an execution (default 1000000000)",
  ],
  JOBICO_OUTPUT_KB: [
    "--output-kb",
    "default output (logs, stdout, stderr) kept per execution in KiB (default 1024)",
  ],
  JOBICO_RETRIES: [
    "--retries",
    "default retries of a failed execution before its dead letter (default 3)",
  ],
  JOBICO_RETRY_BASE_MS: [
    "--retry-base-ms",
    "delay of the first retry; each next one doubles (default 1000)",
  ],
  JOBICO_SHUTDOWN_GRACE_MS: [
    "--shutdown-grace-ms",
    "on shutdown, how long executions may take to finish before they are stopped and put back (default 10000)",
  ],
  JOBICO_MAX_QUEUE_DEPTH: [
    "--max-queue-depth",
    "events a queue may hold before the listener answers 429 (default 100000)",
  ],
  JOBICO_SCHEDULE_MIN_MS: [
    "--schedule-min-ms",
    "the shortest time between two ticks of an event's schedule; faster ones are refused at deploy (default 60000)",
  ],
  JOBICO_MAX_DELAY_MS: [
    "--max-delay-ms",
    "the furthest a webhook request may delay its events (delay, runAt) (default 2592000000, 30 days)",
  ],
  JOBICO_RETENTION_DAYS: [
    "--retention-days",
    "days a tenant's executions are kept, 0 for no age limit (default 7)",
  ],
  JOBICO_RETENTION_EXECUTIONS: [
    "--retention-executions",
    "executions kept per tenant, newest first, 0 for no limit (default 100000)",
  ],
  JOBICO_RETENTION_VERSIONS: [
    "--retention-versions",
    "versions kept of each package besides those queued events pin (default 10)",
  ],
  JOBICO_QUOTA_FILES: [
    "--quota-files",
    "files a tenant may have (default 1000)",
  ],
  JOBICO_QUOTA_BYTES: [
    "--quota-bytes",
    "bytes a tenant may store in files and kept versions (default 1073741824)",
  ],
  JOBICO_SWEEP_INTERVAL_MS: [
    "--sweep-interval-ms",
    "how often the retention sweeper runs, 0 for never (default 60000)",
  ],
  JOBICO_UPLOAD_GRACE_MS: [
    "--upload-grace-ms",
    "how long an unfinished upload may stall before a crash is assumed and its chunks are collected (default 600000)",
  ],
  JOBICO_LEASE_MS: [
    "--lease-ms",
    "how long an executor holds an event before it is delivered again, renewed while it runs (default 4000)",
  ],
  JOBICO_PRIORITY_AGING_MS: [
    "--priority-aging-ms",
    "how long a queued event waits before its priority rises a level, so low ones are not starved (default 30000)",
  ],
  JOBICO_MAX_STREAMS: [
    "--max-streams",
    "execution streams (SSE) open at once in this process; more get 429 (default 500)",
  ],
  JOBICO_MAX_STREAMS_PER_TENANT: [
    "--max-streams-per-tenant",
    "execution streams one tenant may hold open at once; more get 429 (default 50)",
  ],
  JOBICO_STREAM_BUFFER_KB: [
    "--stream-buffer-kb",
    "KiB that may wait for a stream's client before the stream is dropped (default 256)",
  ],
  JOBICO_MAX_CONNECTIONS: [
    "--max-connections",
    "open connections at most; beyond, the longest waiting one is closed, or 503 when all are busy (default: the file descriptor limit less a tenth, at least 128 less: 896 for 1024)",
  ],
  JOBICO_HEADER_TIMEOUT_MS: [
    "--header-timeout-ms",
    "time a new connection has to send its request's headers (default 10000)",
  ],
  JOBICO_IDLE_TIMEOUT_MS: [
    "--idle-timeout-ms",
    "time a keep-alive connection may wait for its next request (default 5000)",
  ],
  JOBICO_REQUEST_TIMEOUT_MS: [
    "--request-timeout-ms",
    "time from a request's headers to the end of its answer, event streams excepted (default 60000)",
  ],
} as const;

export type SettingName = keyof typeof SETTINGS;

export interface ServerConfig {
  /** Where the KV lives: a directory, `:memory:` or a URL. */
  data: string;
  /** Where the KV is when not in the data directory: a URL, a file or `:memory:`. */
  kv?: string;
  /** A `postgres://` URL: the store is that PostgreSQL database instead of a Deno KV. */
  store?: string;
  logLevel: LogLevel;
  /** Without `adminToken`, the server makes one (see admin_token.ts). */
  options: Omit<ServeOptions, "kv" | "logger" | "adminToken" | "secretKey"> & {
    adminToken?: string;
    /** The text of JOBICO_SECRET_KEY (see secret_key.ts). */
    secretKey?: string;
  };
}

const LEVELS = ["debug", "info", "warn", "error"];

/**
 * Checks and converts the settings. `values` are keyed by variable name;
 * `source` says how to name a bad one in the error ("JOBICO_PORT" or
 * "--port").
 *
 * @throws {SettingError} naming the setting and what it accepts
 */
export function serverConfig(
  values: Partial<Record<SettingName, string>>,
  source: "env" | "flag" = "env",
): ServerConfig {
  const get = (name: SettingName) => {
    const v = values[name]?.trim();
    return v ? v : undefined;
  };
  const label = (name: SettingName) =>
    source === "env" ? name : SETTINGS[name][0];
  const int = (name: SettingName, min: number, max: number) => {
    const text = get(name);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      throw new SettingError(
        `Invalid ${
          label(name)
        } "${text}": use a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };

  const logLevel = get("JOBICO_LOG_LEVEL") ?? "info";
  if (!LEVELS.includes(logLevel)) {
    throw new SettingError(
      `Invalid ${label("JOBICO_LOG_LEVEL")} "${logLevel}": use ${
        LEVELS.join(", ")
      }`,
    );
  }
  const accessLog = get("JOBICO_ACCESS_LOG");
  if (
    accessLog !== undefined &&
    !(ACCESS_LOGS as readonly string[]).includes(accessLog)
  ) {
    throw new SettingError(
      `Invalid ${label("JOBICO_ACCESS_LOG")} "${accessLog}": use ${
        ACCESS_LOGS.join(", ")
      }`,
    );
  }
  let components: Component[] | undefined;
  const list = get("JOBICO_COMPONENTS");
  if (list !== undefined) {
    components = [];
    for (const name of list.split(",").map((s) => s.trim()).filter(Boolean)) {
      if (!(COMPONENTS as readonly string[]).includes(name)) {
        throw new SettingError(
          `Invalid ${
            label("JOBICO_COMPONENTS")
          } "${list}": unknown component "${name}"; use ${
            COMPONENTS.join(", ")
          }`,
        );
      }
      if (!components.includes(name as Component)) {
        components.push(name as Component);
      }
    }
    if (components.length === 0) {
      throw new SettingError(
        `Invalid ${label("JOBICO_COMPONENTS")}: name at least one component`,
      );
    }
  }
  const adminToken = get("JOBICO_ADMIN_TOKEN");
  if (
    adminToken !== undefined &&
    (adminToken.length < MIN_ADMIN_TOKEN || /\s/.test(adminToken))
  ) {
    throw new SettingError(
      `Invalid ${
        label("JOBICO_ADMIN_TOKEN")
      }: use at least ${MIN_ADMIN_TOKEN} characters and no spaces`,
    );
  }
  const secretKey = get("JOBICO_SECRET_KEY");
  if (secretKey !== undefined) {
    checkSecretKey(secretKey, label("JOBICO_SECRET_KEY"));
  }
  const limits = {
    timeoutMs: int("JOBICO_TIMEOUT_MS", 1, 3_600_000),
    memoryMb: int("JOBICO_MEMORY_MB", 1, 4_096),
    fuel: int("JOBICO_FUEL", 1, Number.MAX_SAFE_INTEGER),
    outputKb: int("JOBICO_OUTPUT_KB", 1, 1_048_576),
    retries: int("JOBICO_RETRIES", 0, 100),
  };
  const options: ServerConfig["options"] = {
    port: int("JOBICO_PORT", 0, 65_535) ?? 8080,
    hostname: get("JOBICO_HOST"),
    adminToken,
    secretKey,
    components,
    accessLog: accessLog as AccessLog | undefined,
    workers: int("JOBICO_WORKERS", 1, 256),
    tenantConcurrency: int("JOBICO_TENANT_CONCURRENCY", 1, 256),
    retryBaseMs: int("JOBICO_RETRY_BASE_MS", 1, 3_600_000),
    maxQueueDepth: int("JOBICO_MAX_QUEUE_DEPTH", 1, 1_000_000_000),
    minScheduleIntervalMs: int(
      "JOBICO_SCHEDULE_MIN_MS",
      1000,
      86_400_000,
    ),
    maxDelayMs: int("JOBICO_MAX_DELAY_MS", 1000, 31_536_000_000),
    shutdownGraceMs: int("JOBICO_SHUTDOWN_GRACE_MS", 0, 600_000),
    uploadGraceMs: int("JOBICO_UPLOAD_GRACE_MS", 100, 86_400_000),
    leaseMs: int("JOBICO_LEASE_MS", 100, 3_600_000),
    priorityAgingMs: int("JOBICO_PRIORITY_AGING_MS", 100, 86_400_000),
    limits: definedOnly(limits),
    retention: definedOnly({
      days: int("JOBICO_RETENTION_DAYS", 0, 36_500),
      executions: int("JOBICO_RETENTION_EXECUTIONS", 0, 1_000_000_000),
      versions: int("JOBICO_RETENTION_VERSIONS", 1, 10_000),
    }),
    quotas: definedOnly({
      files: int("JOBICO_QUOTA_FILES", 0, 1_000_000_000),
      bytes: int("JOBICO_QUOTA_BYTES", 0, Number.MAX_SAFE_INTEGER),
    }),
    sweepIntervalMs: int("JOBICO_SWEEP_INTERVAL_MS", 0, 86_400_000),
  };
  const streams = {
    maxStreams: int("JOBICO_MAX_STREAMS", 1, 1_000_000),
    maxStreamsPerTenant: int("JOBICO_MAX_STREAMS_PER_TENANT", 1, 1_000_000),
    bufferBytes: kib(int("JOBICO_STREAM_BUFFER_KB", 1, 1_048_576)),
  };
  if (Object.values(streams).some((v) => v !== undefined)) {
    options.streams = Object.fromEntries(
      Object.entries(streams).filter(([, v]) => v !== undefined),
    );
  }
  const connections = Object.fromEntries(
    Object.entries({
      maxConnections: int("JOBICO_MAX_CONNECTIONS", 1, 10_000_000),
      headerTimeoutMs: int("JOBICO_HEADER_TIMEOUT_MS", 1, 3_600_000),
      idleTimeoutMs: int("JOBICO_IDLE_TIMEOUT_MS", 1, 3_600_000),
      requestTimeoutMs: int("JOBICO_REQUEST_TIMEOUT_MS", 1, 3_600_000),
    }).filter(([, v]) => v !== undefined),
  );
  if (Object.keys(connections).length > 0) options.connections = connections;
  // Settings left out keep the platform's defaults.
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) delete (options as Record<string, unknown>)[k];
  }
  const store = get("JOBICO_STORE");
  if (store !== undefined) {
    if (!/^postgres(ql)?:\/\/[^\s]+$/.test(store)) {
      throw new SettingError(
        `Invalid ${label("JOBICO_STORE")} "${
          redactUrl(store)
        }": use a postgres:// or postgresql:// URL`,
      );
    }
    if (get("JOBICO_KV") !== undefined) {
      throw new SettingError(
        `Invalid ${label("JOBICO_STORE")}: ${
          label("JOBICO_KV")
        } names a Deno KV; name one store, not both`,
      );
    }
  }
  return {
    data: get("JOBICO_DATA") ?? ".jobico",
    ...(get("JOBICO_KV") !== undefined && { kv: get("JOBICO_KV") }),
    ...(store !== undefined && { store }),
    logLevel: logLevel as LogLevel,
    options,
  };
}

/** A URL with its password hidden, to name it in messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*:)[^@\s]*@/i, "$1***@");
}

/** The members of `o` that are set. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

function kib(n: number | undefined): number | undefined {
  return n === undefined ? undefined : n * 1024;
}

/** The settings present in the environment. */
export function settingsFromEnv(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Partial<Record<SettingName, string>> {
  const out: Partial<Record<SettingName, string>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const v = env(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}
