import { ValidationError } from "@jobico/goico";

/**
 * The `limit` query parameter of a paged list: a whole number from 1 to
 * 1000, `fallback` when absent.
 *
 * @throws {ValidationError} naming the value
 */
export function pageLimit(text: string | undefined, fallback = 100): number {
  if (text === undefined) return fallback;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > 1000) {
    throw new ValidationError(
      `Invalid limit "${text}": use a whole number from 1 to 1000`,
    );
  }
  return limit;
}
