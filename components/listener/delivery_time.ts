/**
 * When a webhook request's events may run: now, or later when the request
 * says so with a query parameter, `?delay=30s` (from now) or
 * `?runAt=2026-12-24T18:00:00Z` (an RFC 3339 time with its offset). Both
 * are bounded: at most `maxDelayMs` ahead, and a `runAt` more than a minute
 * in the past is refused (clocks differ by less; a time far in the past is
 * a mistake, not "now").
 */
import { ValidationError } from "@jobico/goico";

/** The furthest a request may delay its events unless the platform says otherwise: 30 days. */
export const DEFAULT_MAX_DELAY_MS = 30 * 24 * 3_600_000;
/** How far in the past a `runAt` may be and still run now: clocks differ. */
export const RUN_AT_PAST_MS = 60_000;

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const DELAY = /^([0-9]{1,15})(ms|s|m|h|d)?$/;
const RFC3339 =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})$/i;

/**
 * The due time the request's `delay` or `runAt` asks for, ms since the
 * epoch; undefined when it asks for neither (or for now).
 *
 * @throws {ValidationError} a malformed, out-of-range or repeated value, or both given
 */
export function deliveryTime(
  queries: (name: string) => string[] | undefined,
  now: number,
  maxDelayMs: number = DEFAULT_MAX_DELAY_MS,
): number | undefined {
  const delay = single(queries, "delay");
  const runAt = single(queries, "runAt");
  if (delay !== undefined && runAt !== undefined) {
    throw invalid(
      "delay",
      "Pass either ?delay= or ?runAt=, not both",
    );
  }
  const most = `${Math.floor(maxDelayMs / 1000)} s`;
  if (delay !== undefined) {
    const m = DELAY.exec(delay);
    if (!m) {
      throw invalid(
        "delay",
        `Invalid delay ${
          JSON.stringify(delay.slice(0, 64))
        }: use a whole number of seconds, or one with a unit (1500ms, 30s, 5m, 2h, 1d)`,
      );
    }
    const ms = Number(m[1]) * UNITS[m[2] ?? "s"];
    if (ms > maxDelayMs) {
      throw invalid(
        "delay",
        `Delay ${delay} is too long: at most ${most} (${
          new Date(now + maxDelayMs).toISOString()
        })`,
      );
    }
    return ms === 0 ? undefined : now + ms;
  }
  if (runAt !== undefined) {
    const at = RFC3339.test(runAt) && realDate(runAt) ? Date.parse(runAt) : NaN;
    if (!Number.isFinite(at)) {
      throw invalid(
        "runAt",
        `Invalid runAt ${
          JSON.stringify(runAt.slice(0, 64))
        }: use an RFC 3339 time with its offset, e.g. 2026-12-24T18:00:00Z`,
      );
    }
    if (at < now - RUN_AT_PAST_MS) {
      throw invalid(
        "runAt",
        `runAt ${runAt} is in the past (now is ${
          new Date(now).toISOString()
        }): leave it out to run now`,
      );
    }
    if (at > now + maxDelayMs) {
      throw invalid(
        "runAt",
        `runAt ${runAt} is too far ahead: at most ${most} from now (${
          new Date(now + maxDelayMs).toISOString()
        })`,
      );
    }
    return at <= now ? undefined : at;
  }
  return undefined;
}

/** Whether the date and time of an RFC 3339 string exist (no February 30th, no 25 o'clock). */
function realDate(text: string): boolean {
  const [y, mo, d, h, mi, sec = 0] = text.match(/[0-9]+/g)!.map(Number);
  const day = new Date(Date.UTC(y, mo - 1, d));
  return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 &&
    day.getUTCDate() === d && h <= 23 && mi <= 59 && sec <= 59;
}

function single(
  queries: (name: string) => string[] | undefined,
  name: string,
): string | undefined {
  const values = queries(name);
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) {
    throw invalid(name, `Pass ?${name}= once, not ${values.length} times`);
  }
  return values[0];
}

function invalid(parameter: string, message: string): ValidationError {
  return new ValidationError(message, {
    errors: [{ parameter, message }],
  });
}
