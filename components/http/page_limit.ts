import { ValidationError } from "@jobico/goico";
import { API_LIMITS } from "../../api/mod.ts";

/**
 * The `limit` query parameter of a paged list: a whole number from
 * `API_LIMITS.page.min` to `.max` (1 to 1000, the API's `PageLimit`),
 * `fallback` when absent. A query is text: its digits are checked here,
 * the range is the schema's.
 *
 * @throws {ValidationError} naming the value
 */
export function pageLimit(
  text: string | undefined,
  fallback: number = API_LIMITS.page.default,
): number {
  if (text === undefined) return fallback;
  const limit = Number(text);
  const { min, max } = API_LIMITS.page;
  if (!/^\d+$/.test(text) || limit < min || limit > max) {
    throw new ValidationError(
      `Invalid limit "${text}": use a whole number from ${min} to ${max}`,
    );
  }
  return limit;
}
