import type { Command } from "commander";
import { JobicoClient } from "./client.ts";
import { UsageError } from "./cli_error.ts";
import { Output, shouldColor, type TextWriter } from "./output.ts";

/** The platform URL used when neither `--url` nor `JOBICO_URL` is given. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** The outside world of one CLI run; tests pass their own. */
export interface CliIo {
  stdout: TextWriter;
  stderr: TextWriter;
  /** Environment variables (`JOBICO_URL`, `JOBICO_TOKEN`, `NO_COLOR`). */
  env: Record<string, string | undefined>;
  /** The fetch the client uses; the global one by default. */
  fetch?: typeof fetch;
  /** Aborted on Ctrl-C: ends a stream, cancels requests. */
  signal?: AbortSignal;
  /**
   * The admin token a local platform wrote into its data directory, used
   * for a loopback URL when no token is given (see terminal_io.ts).
   */
  localAdminToken?: () => string | undefined;
}

/** The global options every command inherits. */
export interface GlobalOptions {
  url?: string;
  token?: string;
}

/** What a command needs: output streams, a client, local files. */
export class CliContext {
  readonly io: CliIo;
  /** Human or JSON output on stdout. */
  readonly out: Output;
  /** Messages on stderr. */
  readonly err: Output;

  constructor(io: CliIo) {
    this.io = io;
    this.out = new Output(io.stdout, shouldColor(io.stdout, io.env));
    this.err = new Output(io.stderr, shouldColor(io.stderr, io.env));
  }

  /** The platform URL: `--url`, else `JOBICO_URL`, else the default. */
  url(command: Command): string {
    const options = command.optsWithGlobals<GlobalOptions>();
    const url = options.url || this.io.env.JOBICO_URL || DEFAULT_URL;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalidUrl(url);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw invalidUrl(url);
    }
    return url.replace(/\/+$/, "");
  }

  /**
   * A client for the URL and token of the command's global options: the
   * token is `--token`, else `JOBICO_TOKEN`, else, for a platform on this
   * machine, the admin token it wrote into its data directory.
   */
  client(command: Command): JobicoClient {
    const options = command.optsWithGlobals<GlobalOptions>();
    const url = this.url(command);
    const local = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(
      url,
    );
    return new JobicoClient({
      url,
      token: options.token || this.io.env.JOBICO_TOKEN ||
        (local ? this.io.localAdminToken?.() : undefined) || undefined,
      fetch: this.io.fetch,
      signal: this.io.signal,
    });
  }

  /** Reads a local file; a missing one is a usage mistake (exit 2). */
  async readFile(path: string): Promise<Uint8Array<ArrayBuffer>> {
    try {
      return await Deno.readFile(path);
    } catch (error) {
      throw fileError(path, error);
    }
  }

  /** Reads a local text file; a missing one is a usage mistake (exit 2). */
  async readTextFile(path: string): Promise<string> {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw fileError(path, error);
    }
  }
}

function invalidUrl(url: string): UsageError {
  return new UsageError(`Invalid platform URL "${url}"`, {
    hint: `Pass --url or set JOBICO_URL to a URL like ${DEFAULT_URL}`,
  });
}

function fileError(path: string, error: unknown): Error {
  if (error instanceof Deno.errors.NotFound) {
    return new UsageError(`File "${path}" not found`, {
      hint: "Check the path; it is relative to the current directory",
    });
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return new UsageError(`"${path}" is a directory, not a file`, {
      hint: "Pass the path of a file",
    });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new UsageError(`Cannot read "${path}": permission denied`, {
      hint: "Run with --allow-read (deno task jobico does)",
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}
