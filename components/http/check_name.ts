import { ValidationError } from "@jobico/goico";
import { SAFE_ID } from "../model/keys.ts";

/**
 * Throws a 400 naming `what` unless `value` is a safe name (no path tricks,
 * no odd characters). The message says how long a name may be (read from
 * the pattern's last repeat, `{0,N}`) and quotes the value as JSON, so a
 * name with quotes cannot close the quote.
 */
export function checkName(
  what: string,
  value: string,
  pattern: RegExp = SAFE_ID,
): string {
  if (!pattern.test(value)) {
    const max = /\{0,(\d+)\}\$$/.exec(pattern.source);
    const length = max ? `1 to ${Number(max[1]) + 1} ` : "";
    throw new ValidationError(
      `Invalid ${what} ${
        JSON.stringify(value)
      }: use ${length}letters, digits, ".", "_" and "-", starting with a letter or digit`,
    );
  }
  return value;
}
