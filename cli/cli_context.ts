import type { Command } from "commander";
import { ApiError } from "./api_error.ts";
import { JobicoClient } from "./client.ts";
import { UsageError } from "./cli_error.ts";
import { Output, shouldColor, type TextWriter } from "./output.ts";
import { DEFAULT_URL, resolveSettings, type Settings } from "./settings.ts";

export { DEFAULT_URL } from "./settings.ts";

/** The outside world of one CLI run; tests pass their own. */
export interface CliIo {
  stdout: TextWriter;
  stderr: TextWriter;
  /**
   * Environment variables (`JOBICO_URL`, `JOBICO_TOKEN`, `JOBICO_PROFILE`,
   * `JOBICO_CONFIG`, `HOME`, `NO_COLOR`, `TERM`...).
   */
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
  profile?: string;
  /** False with `--no-color`. */
  color?: boolean;
  /** Only on the commands that define `--tenant`. */
  tenant?: string;
}

/** What a command needs: output streams, a client, local files. */
export class CliContext {
  readonly io: CliIo;
  /** Human or JSON output on stdout. */
  readonly out: Output;
  /** Messages on stderr. */
  readonly err: Output;

  /** The command whose action runs (set before it runs). */
  command?: Command;

  constructor(io: CliIo, options: { color?: boolean } = {}) {
    this.io = io;
    const color = options.color ?? true;
    this.out = new Output(io.stdout, color && shouldColor(io.stdout, io.env));
    this.err = new Output(io.stderr, color && shouldColor(io.stderr, io.env));
  }

  /**
   * URL, token, tenant and profile for a command, each with where it came
   * from: flags, then the environment, then the profile file, then the admin
   * token file of a platform on this machine, then defaults.
   */
  settings(command: Command): Settings {
    const options = command.optsWithGlobals<GlobalOptions>();
    return resolveSettings({
      flags: {
        url: options.url,
        token: options.token,
        profile: options.profile,
        tenant: options.tenant,
      },
      env: this.io.env,
      localAdminToken: this.io.localAdminToken,
    });
  }

  /** The platform URL: `--url`, `JOBICO_URL`, the profile, else the default. */
  url(command: Command): string {
    return checkUrl(this.settings(command).url);
  }

  /** A client for the command's URL and token (see {@linkcode settings}). */
  client(command: Command): JobicoClient {
    const settings = this.settings(command);
    return new JobicoClient({
      url: checkUrl(settings.url),
      token: settings.token?.value,
      fetch: this.io.fetch,
      signal: this.io.signal,
    });
  }

  /**
   * The tenant of a command that takes it as an option: `--tenant`,
   * `JOBICO_TENANT`, the profile's, else the token's own tenant (asked of
   * the platform). `example` completes the hint when none is found.
   */
  async tenant(
    command: Command,
    client: JobicoClient,
    what: string,
    example: string,
  ): Promise<string> {
    const given = this.settings(command).tenant;
    if (given) return given.value;
    const hint = "Pass --tenant <tenant>, set JOBICO_TENANT or a profile's " +
      `tenant, e.g. ${example}`;
    let me;
    try {
      me = await client.whoami();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        throw new UsageError(
          `Cannot tell the tenant of ${what}: the platform does not say whose token this is`,
          { hint },
        );
      }
      throw error;
    }
    if (me.principal === "tenant") return me.tenant;
    throw new UsageError(
      `Cannot tell the tenant of ${what}: the admin token belongs to no tenant`,
      { hint },
    );
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

function checkUrl(setting: Settings["url"]): string {
  const { value, from } = setting;
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    // reported below
  }
  if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:") {
    throw new UsageError(`Invalid platform URL "${value}" (from ${from})`, {
      hint: `Pass --url or set JOBICO_URL to a URL like ${DEFAULT_URL}`,
    });
  }
  return value.replace(/\/+$/, "");
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
