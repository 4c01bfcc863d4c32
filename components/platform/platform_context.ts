/**
 * What every part of the platform's wiring reads: the options, which
 * components run here, the logger and the limits, resolved once.
 */
import { type Logger, silentLogger, withDefaults } from "@jobico/goico";
import {
  DEFAULT_LIMITS,
  DEFAULT_MAX_LIMITS,
  type Limits,
} from "../model/runtime_limits.ts";
import {
  type Component,
  COMPONENTS,
  type PlatformOptions,
} from "../platform.ts";

/** The options of {@linkcode createPlatform}, with their defaults applied where several parts read them. */
export interface PlatformContext {
  options: PlatformOptions;
  /** Aborts when the process shuts down. */
  shutdown: AbortSignal;
  enabled: ReadonlySet<Component>;
  logger: Logger;
  /** Limits of runtimes that declare none. */
  limits: Limits;
  /** The most a runtime may declare. */
  maxLimits: Limits;
}

export function platformContext(
  options: PlatformOptions,
  shutdown: AbortSignal,
): PlatformContext {
  return {
    options,
    shutdown,
    enabled: new Set(options.components ?? COMPONENTS),
    logger: options.logger ?? silentLogger,
    limits: withDefaults(DEFAULT_LIMITS, options.limits),
    maxLimits: withDefaults(DEFAULT_MAX_LIMITS, options.maxLimits),
  };
}
