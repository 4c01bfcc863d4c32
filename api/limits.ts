/**
 * The API's limits, in one place: the schemas (and so the OpenAPI
 * document) and the hand-written checks of the routes read them from here.
 *
 * @module
 */

/** Limits of requests, as the schemas and the routes enforce them. */
export const API_LIMITS = {
  /** Items in one `POST /events/{tenant}/{event}` (413 beyond). */
  eventItems: 500,
  /** Dead letter ids in one replay or purge. */
  deadLetterIds: 1000,
  /** The `limit` of a paged list: from `min` to `max`, `default` when absent. */
  page: { min: 1, max: 1000, default: 100 },
  /** Bytes of the small JSON bodies: a new tenant, a rollback, tenant settings. */
  smallBodyBytes: 4096,
  /** Bytes of a replay or purge body. */
  deadLetterBodyBytes: 64 * 1024,
  /** Bytes of a package source (the deploy route's default). */
  packageSourceBytes: 60 * 1024,
} as const;

/** `bytes` in KiB, for sentences: "64 KiB". */
export function kib(bytes: number): string {
  return `${bytes / 1024} KiB`;
}

/** The accepted range of each retention and quota setting, `[min, max]`. */
export const POLICY_RANGES = {
  retention: {
    days: [0, 36_500],
    executions: [0, 1_000_000_000],
    versions: [1, 10_000],
  },
  quotas: {
    files: [0, 1_000_000_000],
    bytes: [0, Number.MAX_SAFE_INTEGER],
    maxConcurrency: [0, 100_000],
  },
} as const;
