/**
 * The `jobico` CLI and its typed HTTP client.
 *
 * @module
 */
export { ApiError, ConnectionError } from "./api_error.ts";
export type {
  DeadLetter,
  DeadLetterPage,
  DeadLetterQuery,
  DeployPlan,
  Execution,
  ExecutionLog,
  ExecutionPage,
  ExecutionQuery,
  ExecutionStatus,
  FieldChange,
  FileInfo,
  FileKind,
  Health,
  LogLevel,
  Meta,
  PackageChange,
  PackageDetail,
  PackageIssue,
  PackageRef,
  PackageSummary,
  PackageVersion,
  PendingFile,
  Problem,
  PurgeResult,
  QueueInfo,
  ReplayResult,
  SendResult,
  Whoami,
} from "./api_types.ts";
export { CliContext, type CliIo, DEFAULT_URL } from "./cli_context.ts";
export { CliError, HELP_HINT, UsageError } from "./cli_error.ts";
export {
  JobicoClient,
  type JobicoClientOptions,
  type SendOptions,
  type StreamOptions,
} from "./client.ts";
export { createProgram, run, START_HINT, TOKEN_HINT, VERSION } from "./main.ts";
export {
  formatExecutionLine,
  formatTable,
  Output,
  palette,
  shouldColor,
  type TextWriter,
} from "./output.ts";
export { readSse, type SseMessage } from "./read_sse.ts";
export { terminalIo } from "./terminal_io.ts";
