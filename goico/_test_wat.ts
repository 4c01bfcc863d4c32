/**
 * For goico's own tests: the project's WAT test Jobicolets
 * (tests/jobicolets/<name>.wat), read by path and compiled with goico's
 * `watFixtures`. goico imports nothing from outside itself: the files are
 * data, not modules.
 */
import { watFixtures } from "./testing.ts";

export { compileWatText } from "./testing.ts";

/** The module of `tests/jobicolets/<name>.wat` (cached per process). */
export const compileWat: (name: string) => Promise<Uint8Array> = watFixtures(
  new URL("../tests/jobicolets/", import.meta.url),
);
