/**
 * The record of one execution of a Jobicolet: its type is the API's
 * (api/execution_schemas.ts), so what is stored is what is answered.
 */
import type {
  Execution,
  ExecutionLog,
  LogLevel as LogLevelName,
} from "../../api/mod.ts";

export type { Execution, ExecutionLog, LogLevelName };

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
