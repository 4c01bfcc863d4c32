import type { ChainedFrom } from "../model/event_item.ts";

/** The record of one execution of a Jobicolet. */
export interface Execution {
  id: string;
  /** The id the listener answered with when the event was accepted. */
  eventId: string;
  tenant: string;
  package: string;
  /**
   * The version of the package that ran it: the one the event was accepted
   * under. Absent on records made before it was recorded.
   */
  version?: number;
  event: string;
  queue: string;
  /** `ok`: code 0; `error`: the Jobicolet returned a non-zero code; `failed`: a trap, timeout or host failure. */
  status: "ok" | "error" | "failed";
  /** The code the Jobicolet returned; null when it did not return. */
  code: number | null;
  /** The result string the Jobicolet returned; null when it did not return. */
  result: string | null;
  /** Why the execution failed; null unless `status` is `failed`. */
  error: string | null;
  logs: ExecutionLog[];
  /** 1 for the first run of the event, more for re-runs. */
  attempt: number;
  /** ISO 8601. */
  startedAt: string;
  durationMs: number;
  /** For a chained result event: the execution whose outcome it is. */
  chainedFrom?: ChainedFrom;
  /**
   * The item it ran with, which a re-run sends again; absent when the
   * record could not hold it (see `ExecutionStore.fit`) and on records
   * made before it was kept.
   */
  input?: unknown;
  /** For a re-run: the execution whose input it ran with. */
  rerunOf?: string;
}

export type LogLevelName =
  | "debug"
  | "info"
  | "warn"
  | "error"
  | "fatal"
  | "panic"
  | "none";

export interface ExecutionLog {
  level: LogLevelName;
  message: string;
  /** `module`: env.log; `stdout`/`stderr`: what the module wrote; `host`: the platform's own notes. */
  source: "module" | "stdout" | "stderr" | "host";
}

const LEVELS: LogLevelName[] = [
  "debug",
  "info",
  "warn",
  "error",
  "fatal",
  "panic",
  "none",
];

/** zerolog's numbering to a name (unknown numbers are `none`). */
export function levelName(level: number): LogLevelName {
  return LEVELS[level] ?? "none";
}
