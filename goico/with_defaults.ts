/**
 * The defaults, each replaced by its option when that is given: an option
 * given as `undefined` keeps its default. Keys that have no default are
 * left out.
 *
 * `{ ...DEFAULTS, ...options }` does not: a key present with the value
 * `undefined` (as in `{ retryBaseMs: config.retryBaseMs }` when the setting
 * is absent) overwrites the default with `undefined`, and the number
 * computed from it becomes NaN.
 *
 * ```ts
 * withDefaults({ a: 1, b: 2 }, { a: undefined, b: 3 }); // { a: 1, b: 3 }
 * ```
 */
export function withDefaults<T extends object>(
  defaults: T,
  options: { [K in keyof T]?: T[K] | undefined } | undefined,
): T {
  const out = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof T)[]) {
    const value = options?.[key];
    if (value !== undefined) out[key] = value as T[keyof T];
  }
  return out;
}
