/**
 * The limits one execution of a runtime runs under: declared per runtime in
 * a job package (`limits: {timeoutms, memorymb, fuel, outputkb}` and
 * `retries`), with
 * platform defaults and ceilings for what is not declared or declared too
 * high.
 */

/** What a runtime may declare. Every field is optional. */
export interface RuntimeLimitsDef {
  /** Wall-clock time of one execution, in milliseconds. */
  timeoutms?: number;
  /** Largest linear memory the module may grow to, in MiB. */
  memorymb?: number;
  /** Instructions one execution may run (see goico/fuel_meter.ts). */
  fuel?: number;
  /** Output (logs, stdout, stderr) one execution may leave, in KiB. */
  outputkb?: number;
}

/** The limits an execution actually runs under. */
export interface Limits {
  timeoutMs: number;
  memoryMb: number;
  fuel: number;
  /** Output kept per execution (logs, stdout, stderr), in KiB. */
  outputKb: number;
  /** Retries of a `failed` execution before its event is dead-lettered. */
  retries: number;
}

/** Platform defaults: about a second of work, 128 MiB, 1 MiB of output, 3 retries. */
export const DEFAULT_LIMITS: Limits = {
  timeoutMs: 5_000,
  memoryMb: 128,
  fuel: 1_000_000_000,
  outputKb: 1_024,
  retries: 3,
};

/**
 * Platform ceilings: a package that declares more is refused at deploy. The
 * fuel ceiling also bounds how long a runaway module can hold a core after
 * its timeout (about 1 ns per instruction on these machines).
 */
export const DEFAULT_MAX_LIMITS: Limits = {
  timeoutMs: 60_000,
  memoryMb: 1_024,
  fuel: 20_000_000_000,
  outputKb: 16_384,
  retries: 10,
};

/** The YAML name of each limit and its field in `Limits`. */
export const LIMIT_FIELDS = [
  ["timeoutms", "timeoutMs"],
  ["memorymb", "memoryMb"],
  ["fuel", "fuel"],
  ["outputkb", "outputKb"],
] as const;

/** A runtime's declared limits over the platform defaults. */
export function effectiveLimits(
  declared: { limits?: RuntimeLimitsDef; retries?: number } | undefined,
  defaults: Limits = DEFAULT_LIMITS,
): Limits {
  const l = declared?.limits ?? {};
  return {
    timeoutMs: l.timeoutms ?? defaults.timeoutMs,
    memoryMb: l.memorymb ?? defaults.memoryMb,
    fuel: l.fuel ?? defaults.fuel,
    outputKb: l.outputkb ?? defaults.outputKb,
    retries: declared?.retries ?? defaults.retries,
  };
}
