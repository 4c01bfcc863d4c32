import type { Command } from "commander";
import { isAbsolute, resolve } from "node:path";
import { ApiError } from "./api_error.ts";
import { JobicoClient } from "./client.ts";
import { UsageError } from "./cli_error.ts";
import type { LocalPlatform } from "./local_platform.ts";
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
   * Asks the user a question on the terminal and resolves with the line
   * they type (null at the end of input). Absent when there is no terminal
   * to ask on: commands that would ask then need their `--yes`.
   */
  ask?: (question: string) => Promise<string | null>;
  /**
   * The platforms of this machine, best first: the URL when none is given,
   * and the admin token for a loopback URL when no token is (see
   * local_platform.ts). Default: none.
   */
  localPlatforms?: () => LocalPlatform[];
  /**
   * The directory relative paths given on the command line are taken from:
   * where the user typed the command (`deno task jobico` runs in the
   * project's folder and passes it as JOBICO_CWD). Default: the working
   * directory.
   */
  cwd?: string;
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
      localPlatforms: this.io.localPlatforms,
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

  /**
   * A path given on the command line, as the process opens it: a relative
   * one is taken from the directory the command was typed in
   * (`CliIo.cwd`), which `deno task jobico` passes since it runs in the
   * project's folder.
   */
  path(given: string): string {
    return this.io.cwd ? resolve(this.io.cwd, given) : given;
  }

  /** Reads a local file; a missing one is a usage mistake (exit 2). */
  async readFile(path: string): Promise<Uint8Array<ArrayBuffer>> {
    try {
      return await Deno.readFile(this.path(path));
    } catch (error) {
      throw fileError(path, error, this.io.cwd);
    }
  }

  /** Reads a local text file; a missing one is a usage mistake (exit 2). */
  async readTextFile(path: string): Promise<string> {
    try {
      return await Deno.readTextFile(this.path(path));
    } catch (error) {
      throw fileError(path, error, this.io.cwd);
    }
  }
}

function currentDir(): string {
  try {
    return Deno.cwd();
  } catch {
    return "the current directory";
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

function fileError(
  path: string,
  error: unknown,
  cwd: string | undefined,
): Error {
  if (error instanceof Deno.errors.NotFound) {
    const from = isAbsolute(path)
      ? ""
      : `; it is relative to ${cwd ?? currentDir()}`;
    return new UsageError(`File "${path}" not found`, {
      hint: `Check the path${from}`,
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
