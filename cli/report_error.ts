/**
 * How a failed run ends: one line `error: ...`, one line `hint: ...`, and an
 * exit code (1 failure, 2 usage mistake, 130 interrupted). A request the
 * platform refused for several reasons (the `errors` of its problem: each
 * item that does not match the event's schema, say) gets a line for each
 * between the two, at most MAX_ERROR_LINES.
 *
 * @module
 */
import { type Command, CommanderError } from "commander";
import { ApiError, ConnectionError } from "./api_error.ts";
import type { CliContext } from "./cli_context.ts";
import { CliError, HELP_HINT } from "./cli_error.ts";
import { isLoopback } from "./settings.ts";

export const START_HINT =
  "Is the platform running? Start it with: deno task dev";
export const TOKEN_HINT =
  "Pass --token, set JOBICO_TOKEN, or give the profile a token (jobico config set token <token>)";

/** Prints `error` on stderr as one line and a hint; returns the exit code. */
export function reportError(ctx: CliContext, error: unknown): number {
  const colors = ctx.err.colors;
  // Output.line shows the control characters of what a platform's message
  // quotes (a tenant's or a sender's text) as escapes.
  const print = (message: string, hint?: string, details: string[] = []) => {
    ctx.err.line(`${colors.red("error:")} ${oneLine(message)}`);
    for (const line of details) ctx.err.line(`  ${line}`);
    if (hint) ctx.err.line(`${colors.dim("hint:")} ${hint}`);
  };
  if (error instanceof CommanderError) {
    switch (error.code) {
      case "commander.helpDisplayed":
      case "commander.version":
        return 0;
      case "commander.help": // `help <command>`, or a group without one
        return error.exitCode === 0 ? 0 : 2;
    }
    print(error.message.replace(/^error:\s*/, ""), helpHint(ctx.command));
    return 2;
  }
  if (ctx.io.signal?.aborted) return 130;
  if (error instanceof ApiError) {
    print(
      `${error.message} (HTTP ${error.status})`,
      apiHint(ctx, error),
      errorLines(error),
    );
    return 1;
  }
  if (error instanceof ConnectionError) {
    print(
      error.message,
      isLoopback(error.url)
        ? START_HINT
        : "Check the URL (--url, JOBICO_URL or the profile: jobico config) " +
          "and that the platform is reachable from here",
    );
    return 1;
  }
  if (error instanceof CliError) {
    print(error.message, error.hint);
    return error.exitCode;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    print(
      error.message,
      "Run with --allow-net --allow-read --allow-env (deno task jobico does)",
    );
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  const debug = ctx.io.env.JOBICO_DEBUG;
  print(
    message,
    debug ? undefined : "Run again with JOBICO_DEBUG=1 for the stack trace",
  );
  if (debug && error instanceof Error && error.stack) {
    ctx.err.line(error.stack);
  }
  return 1;
}

/** Lines of a problem's `errors` that `reportError` prints, at most. */
export const MAX_ERROR_LINES = 10;

/**
 * A line for each of a problem's `errors` (`item 0: /name "name" is
 * required`) when it has more than one (one is the problem's detail
 * already), the last saying how many more there are past MAX_ERROR_LINES.
 */
export function errorLines(error: ApiError): string[] {
  // What a proxy in between answered may hold anything.
  const all: unknown[] = Array.isArray(error.body.errors)
    ? error.body.errors
    : [];
  const errors = all.filter((e): e is Record<string, unknown> =>
    typeof e === "object" && e !== null &&
    typeof (e as { message?: unknown }).message === "string"
  );
  if (errors.length < 2) return [];
  const lines = errors.slice(0, MAX_ERROR_LINES).map((e) => {
    const where = [
      typeof e.item === "number" ? `item ${e.item}` : "",
      typeof e.path === "string" && e.path !== "" ? e.path : "",
      typeof e.parameter === "string" ? `parameter ${e.parameter}` : "",
    ].filter((w) => w).join(" ");
    return oneLine(where ? `${where}: ${e.message}` : String(e.message));
  });
  if (errors.length > MAX_ERROR_LINES) {
    lines.push(`... and ${errors.length - MAX_ERROR_LINES} more`);
  }
  return lines;
}

/** `Run "jobico packages list --help"` for the command a mistake was made in. */
export function helpHint(command: Command | undefined): string {
  const path = commandPath(command);
  return path ? `Run "jobico ${path} --help"` : HELP_HINT;
}

/** `packages list` for the command `jobico packages list`; "" for the program. */
export function commandPath(command: Command | undefined): string {
  const names: string[] = [];
  for (let c = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** What to do about an error status, from the status and the request path. */
export function apiHint(ctx: CliContext, error: ApiError): string {
  const path = error.request?.path ?? "";
  const [, tenant] = path.match(/^\/(?:api\/v1\/tenants|events)\/([^/]+)/) ??
    [];
  const t = tenant ? decodeURIComponent(tenant) : "<tenant>";
  switch (error.status) {
    case 400:
    case 415:
      return helpHint(ctx.command);
    case 401:
      return tokenHint(ctx);
    case 403:
      return "The token does not grant this; use the tenant's token or the admin token";
    case 404:
      return notFoundHint(error, path, t);
    case 409:
      return "Something changed it at the same moment: run the command again";
    case 413:
      return "Send less at once: the limits are in the README (API section)";
    case 422:
      return `Upload the files it names first (jobico upload-wasm, upload-schema); see them with: jobico files list ${t}`;
    case 429:
      return `The executor drains the queue meanwhile; see how full it is: jobico queues list ${t}`;
  }
  if (error.status >= 500) {
    return "The platform failed: its log on stderr says why; jobico status shows its health";
  }
  return helpHint(ctx.command);
}

/**
 * What to do about a refused token: the generic hint, or, when the token
 * was read from a local platform's admin token file, that the platform at
 * the URL takes another one.
 */
function tokenHint(ctx: CliContext): string {
  let settings;
  try {
    settings = ctx.command ? ctx.settings(ctx.command) : undefined;
  } catch {
    return TOKEN_HINT;
  }
  const token = settings?.token;
  if (token?.source !== "admin token file") return TOKEN_HINT;
  return `The platform at ${settings?.url.value} does not take the admin token in ${token.from}: ` +
    "it was started with another data directory or JOBICO_ADMIN_TOKEN. " +
    "Pass its token with --token or JOBICO_TOKEN, or set JOBICO_DATA to its data directory";
}

function notFoundHint(error: ApiError, path: string, t: string): string {
  const detail = error.detail ?? "";
  if (/^No route for/.test(detail)) {
    return "The process at this URL does not serve it: see its components with jobico status";
  }
  if (
    /unknown tenant/i.test(detail) || /^\/api\/v1\/tenants\/[^/]+$/.test(path)
  ) {
    return "List the tenants: jobico tenant list";
  }
  if (path.startsWith("/events/")) {
    return `Events are declared by packages: jobico packages list ${t}`;
  }
  const [, collection] = path.match(/^\/api\/v1\/tenants\/[^/]+\/([^/]+)/) ??
    [];
  if (["packages", "files", "queues", "executions"].includes(collection)) {
    return `See what exists: jobico ${collection} list ${t}`;
  }
  return "Check the names given; jobico --help lists the commands that show them";
}

function oneLine(text: string): string {
  return text.trim().replace(/\s*\r?\n\s*/g, " ");
}
