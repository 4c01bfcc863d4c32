/** Options of {@linkcode CliError}. */
export interface CliErrorOptions extends ErrorOptions {
  /** The process exit code; 1 by default. */
  exitCode?: number;
  /** A second line telling the user what to do about it. */
  hint?: string;
}

/** A failure the CLI reports as a one-line message and exits with. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly hint?: string;

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = options.exitCode ?? 1;
    this.hint = options.hint;
  }
}

/** A mistake in how the CLI was called: exit code 2. */
export class UsageError extends CliError {
  constructor(
    message: string,
    options: Omit<CliErrorOptions, "exitCode"> = {},
  ) {
    super(message, { ...options, exitCode: 2 });
    this.name = "UsageError";
  }
}

/** The hint every usage mistake ends with unless it has a better one. */
export const HELP_HINT = 'Run "jobico --help"';
