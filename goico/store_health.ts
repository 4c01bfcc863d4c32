/**
 * Whether the store takes writes. A read says nothing about a full disk
 * (reads go on working), so the check writes: a small value to one key,
 * at most once per `probeEveryMs` however often it is asked (a health
 * endpoint polled by many checkers writes once a second). Store failures
 * met elsewhere (a request's write, an executor's commit) are reported
 * with `observe`, and keep the store "failing" for `failingForMs` after
 * the last one, so a probe that slips through between failures does not
 * make the health flap. Recovery needs nothing: once writes succeed again
 * and no failure was seen for `failingForMs`, the check says "ok".
 */
import type { Logger } from "./logger.ts";
import { storeFailure, type StoreUnavailableError } from "./store_error.ts";

/**
 * How a {@linkcode StoreHealth} probes the store and reports failures.
 *
 * @example
 * ```ts
 * const health = new StoreHealth(kv, { logger: jsonLogger(), failingForMs: 10_000 });
 * ```
 */
export interface StoreHealthOptions {
  /**
   * The key the probe writes.
   *
   * @default {["health", "probe"]}
   */
  key?: Deno.KvKey;
  /**
   * A probe's result is reused this long, in ms.
   *
   * @default {1000}
   */
  probeEveryMs?: number;
  /**
   * The store stays "failing" this long after the last failure seen, in ms.
   *
   * @default {5000}
   */
  failingForMs?: number;
  /**
   * Failures are logged at most once per this long (with a count), in ms.
   *
   * @default {5000}
   */
  logEveryMs?: number;
  /**
   * Gets the failures, at most one line per `logEveryMs`.
   *
   * @default {undefined} (failures are not logged)
   */
  logger?: Logger;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
}

export class StoreHealth {
  readonly #key: Deno.KvKey;
  readonly #probeEveryMs: number;
  readonly #failingForMs: number;
  readonly #logEveryMs: number;
  readonly #logger?: Logger;
  readonly #now: () => number;
  #lastFailure: { at: number; error: StoreUnavailableError } | null = null;
  #since = 0;
  #probe: { at: number; result: Promise<string> } | null = null;
  #logged = -Infinity;
  #unlogged = 0;

  constructor(private readonly kv: Deno.Kv, options: StoreHealthOptions = {}) {
    this.#key = options.key ?? ["health", "probe"];
    this.#probeEveryMs = options.probeEveryMs ?? 1000;
    this.#failingForMs = options.failingForMs ?? 5000;
    this.#logEveryMs = options.logEveryMs ?? 5000;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Reports an error a store operation threw. Returns its typed form when
   * it is a store failure (which it records), else null.
   */
  observe(err: unknown): StoreUnavailableError | null {
    const failure = storeFailure(err);
    if (!failure) return null;
    const now = this.#now();
    if (!this.failing) this.#since = now;
    this.#lastFailure = { at: now, error: failure };
    this.#unlogged++;
    if (now - this.#logged >= this.#logEveryMs) {
      this.#logger?.error("store failing", {
        reason: failure.reason,
        error: failure.storeMessage,
        failures: this.#unlogged,
        since: new Date(this.#since).toISOString(),
      });
      this.#logged = now;
      this.#unlogged = 0;
    }
    return failure;
  }

  /** Whether a store failure was seen in the last `failingForMs`. */
  get failing(): boolean {
    return this.#lastFailure !== null &&
      this.#now() - this.#lastFailure.at < this.#failingForMs;
  }

  /** "ok", or "failing: ..." saying what fails and since when. */
  async check(): Promise<string> {
    const now = this.#now();
    if (!this.#probe || now - this.#probe.at >= this.#probeEveryMs) {
      this.#probe = { at: now, result: this.#write() };
    }
    const probed = await this.#probe.result;
    if (probed !== "ok") return probed;
    if (this.failing) {
      const { error } = this.#lastFailure!;
      return `failing: writes fail (${error.storeMessage}) since ${
        new Date(this.#since).toISOString()
      }`;
    }
    return "ok";
  }

  async #write(): Promise<string> {
    try {
      await this.kv.set(this.#key, this.#now());
      return "ok";
    } catch (err) {
      const failure = this.observe(err);
      return `failing: a test write failed (${
        failure?.storeMessage ?? (err as Error).message
      })`;
    }
  }
}
