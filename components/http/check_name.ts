import { ValidationError } from "@jobico/goico";
import { SAFE_ID } from "../model/keys.ts";

/** Throws a 400 naming `what` unless `value` is a safe name (no path tricks, no odd characters). */
export function checkName(
  what: string,
  value: string,
  pattern: RegExp = SAFE_ID,
): string {
  if (!pattern.test(value)) {
    throw new ValidationError(
      `Invalid ${what} "${value}": use letters, digits, ".", "_" and "-", starting with a letter or digit`,
    );
  }
  return value;
}
