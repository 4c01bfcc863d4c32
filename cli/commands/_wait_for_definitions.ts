/**
 * `--wait` of deploy, redeploy and rollback: wait until the platform's
 * processes route events by the new definitions.
 *
 * Every process keeps a cache of definitions, dropped when the definition
 * stream announces a change (within milliseconds in one process, within
 * about half a second across processes on one data directory). `/meta`
 * says how many changes the store has announced (`definitionsLatest`) and
 * how many the process had seen when it last dropped its cache
 * (`definitionsSeen`). Read after the deploy, `definitionsLatest` counts
 * the deploy; once a process has `definitionsSeen` at least that, events it
 * receives run on the new version.
 */
import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { CliError, UsageError } from "../cli_error.ts";
import { JobicoClient } from "../client.ts";
import { formatDuration } from "../output.ts";
import { Progress } from "../progress.ts";

/** The options `--wait`, `--wait-for`, `--wait-timeout`. */
export interface WaitOptions {
  wait?: boolean;
  waitFor?: string[];
  waitTimeout?: number;
}

/** One process that has the change. */
export interface ProcessReached {
  url: string;
  /** `definitionsSeen` when it was found to have the change. */
  seen: number;
  /** How long after the wait began. */
  afterMs: number;
}

/** What `--wait` found, for `--json`. */
export interface WaitResult {
  /** The number of definition changes announced, the deploy included. */
  latest: number;
  processes: ProcessReached[];
}

const POLL_MS = 50;
const DEFAULT_TIMEOUT_S = 30;

/** Adds `--wait`, `--wait-for <url>` and `--wait-timeout <s>` to a command. */
export function waitOptions(command: Command): Command {
  const collect = (value: string, previous: string[] | undefined) => [
    ...previous ?? [],
    value,
  ];
  return command
    .option(
      "--wait",
      "wait until the platform runs new events with it (polls GET /meta)",
    )
    .option(
      "--wait-for <url>",
      "wait for the process at this URL too, e.g. a separate executor " +
        "(repeatable; implies --wait)",
      collect,
    )
    .option(
      "--wait-timeout <seconds>",
      `give up waiting after this long (default ${DEFAULT_TIMEOUT_S})`,
      (value: string) => {
        const n = Number(value);
        if (!(n > 0) || !Number.isFinite(n)) {
          throw new UsageError(`Invalid --wait-timeout "${value}"`, {
            hint: "Pass a number of seconds, e.g. --wait-timeout 10",
          });
        }
        return n;
      },
    );
}

/**
 * Whether the options ask to wait; a `--wait-for` that is not a URL is a
 * usage mistake (exit 2), found before anything is changed.
 */
export function wantsWait(options: WaitOptions): boolean {
  for (const url of options.waitFor ?? []) trimUrl(url);
  return Boolean(options.wait || options.waitFor?.length);
}

/**
 * Waits until every process (the client's, and those of `--wait-for`) has
 * loaded every definition change announced so far. Throws a `CliError`
 * (exit 1) naming the processes that did not within the timeout; its
 * message starts with `done` (what was done, e.g. `Deployed demo/greet
 * version 3`), as `--json` prints nothing then.
 */
export async function waitForDefinitions(
  ctx: CliContext,
  client: JobicoClient,
  options: WaitOptions,
  done: string,
  now: () => number = Date.now,
): Promise<WaitResult> {
  const start = now();
  const meta = await client.meta();
  const latest = meta.definitionsLatest;
  if (typeof latest !== "number") {
    throw new CliError(
      `The platform at ${client.url} does not say in /meta which definitions it has loaded, so it cannot be waited for`,
      { hint: "Leave out --wait, or upgrade the platform" },
    );
  }
  const urls = [
    ...new Set([client.url, ...(options.waitFor ?? []).map(trimUrl)]),
  ];
  const clients = urls.map((url) =>
    url === client.url ? client : client.at(url)
  );
  const deadline = start +
    (options.waitTimeout ?? DEFAULT_TIMEOUT_S) * 1000;
  const bar = new Progress(ctx.io.stderr, ctx.io.env, {
    label: "Waiting for the platform to load it",
    total: urls.length,
  });
  const reached = new Map<string, ProcessReached>();
  const last = new Map<string, string>();
  let first: typeof meta | undefined = meta;
  try {
    while (true) {
      await Promise.all(clients.map(async (c) => {
        if (reached.has(c.url)) return;
        try {
          const m = c === client && first ? first : await c.meta();
          if (c === client) first = undefined;
          const seen = m.definitionsSeen;
          if (typeof seen !== "number") {
            last.set(c.url, "its /meta has no definitionsSeen");
          } else if (seen >= latest) {
            reached.set(c.url, { url: c.url, seen, afterMs: now() - start });
          } else {
            last.set(c.url, `it has loaded ${seen} of ${latest} changes`);
          }
        } catch (error) {
          if (ctx.io.signal?.aborted) throw error;
          last.set(
            c.url,
            error instanceof Error ? error.message : String(error),
          );
        }
      }));
      const pending = urls.filter((u) => !reached.has(u));
      bar.update(reached.size, pending[0] ?? "");
      if (pending.length === 0) break;
      if (now() >= deadline) {
        throw new CliError(
          `${done}, but gave up waiting after ${
            formatDuration(now() - start)
          }: ` +
            pending.map((u) => `${u} (${last.get(u)})`).join(", "),
          {
            hint: `Check the process: jobico status ${
              pending.join(" ")
            }; a longer wait: --wait-timeout`,
          },
        );
      }
      await sleep(POLL_MS, ctx.io.signal);
    }
  } finally {
    bar.done();
  }
  return { latest, processes: urls.map((u) => reached.get(u)!) };
}

/** `Live on http://...:8080 after 12ms` for people. */
export function describeWait(result: WaitResult): string {
  const slowest = Math.max(...result.processes.map((p) => p.afterMs));
  const where = result.processes.length === 1
    ? result.processes[0].url
    : `${result.processes.length} processes`;
  return `Live on ${where} after ${formatDuration(slowest)}`;
}

function trimUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:") {
    throw new UsageError(`Invalid --wait-for URL "${url}"`, {
      hint: "Pass the URL of a process, e.g. --wait-for http://127.0.0.1:8081",
    });
  }
  return url.replace(/\/+$/, "");
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
