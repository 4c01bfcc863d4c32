import type { CliIo } from "./cli_context.ts";
import type { TextWriter } from "./output.ts";
import { findLocalPlatforms } from "./local_platform.ts";
import { SETTINGS } from "../components/server/server_config.ts";

/** The environment variables the CLI reads (`jobico serve` reads the server's). */
export const ENV_NAMES: readonly string[] = [
  "JOBICO_URL",
  "JOBICO_TOKEN",
  "JOBICO_TENANT",
  "JOBICO_PROFILE",
  "JOBICO_CONFIG",
  "JOBICO_WEBHOOK_SECRET",
  "JOBICO_DEBUG",
  "NO_COLOR",
  "TERM",
  // Where the profile file is (config_file.ts).
  "HOME",
  "XDG_CONFIG_HOME",
  // Where the local platforms started lately are listed (announce_local_platform.ts).
  "XDG_STATE_HOME",
  // The directory `deno task jobico` was typed in (deno.json sets it).
  "JOBICO_CWD",
  "APPDATA",
  ...Object.keys(SETTINGS),
];

/**
 * The real process: stdout, stderr, the environment, and a signal that
 * aborts on the first Ctrl-C (a second one exits at once).
 */
export function terminalIo(): CliIo {
  const controller = new AbortController();
  try {
    Deno.addSignalListener("SIGINT", () => {
      if (controller.signal.aborted) Deno.exit(130);
      controller.abort();
    });
  } catch {
    // Signals are not available everywhere; Ctrl-C then just ends the process.
  }
  const env: Record<string, string | undefined> = {};
  for (const name of ENV_NAMES) {
    try {
      env[name] = Deno.env.get(name);
    } catch {
      // Without --allow-env the flags still work.
    }
  }
  return {
    stdout: fileWriter(Deno.stdout),
    stderr: fileWriter(Deno.stderr),
    env,
    signal: controller.signal,
    localPlatforms: () => findLocalPlatforms(env),
    ask: Deno.stdin.isTerminal() && Deno.stderr.isTerminal()
      ? (question) => askLine(question, controller.signal)
      : undefined,
    cwd: env.JOBICO_CWD || undefined,
  };
}

/** Writes `question` on stderr and reads one line from stdin (null at its end or on Ctrl-C). */
async function askLine(
  question: string,
  signal: AbortSignal,
): Promise<string | null> {
  Deno.stderr.writeSync(new TextEncoder().encode(question));
  const decoder = new TextDecoder();
  const buf = new Uint8Array(256);
  let text = "";
  const aborted = new Promise<null>((resolve) =>
    signal.addEventListener("abort", () => resolve(null), { once: true })
  );
  while (!text.includes("\n")) {
    const n = await Promise.race([Deno.stdin.read(buf), aborted]);
    if (n === null) return text === "" ? null : text;
    text += decoder.decode(buf.subarray(0, n), { stream: true });
  }
  return text.slice(0, text.indexOf("\n"));
}

function fileWriter(file: typeof Deno.stdout): TextWriter {
  const encoder = new TextEncoder();
  return {
    write(text: string) {
      const bytes = encoder.encode(text);
      try {
        for (let off = 0; off < bytes.length;) {
          off += file.writeSync(bytes.subarray(off));
        }
      } catch (error) {
        // The reader went away (`jobico ... | head`): stop quietly.
        if (error instanceof Deno.errors.BrokenPipe) Deno.exit(0);
        throw error;
      }
    },
    isTerminal: () => file.isTerminal(),
    columns() {
      try {
        return file.isTerminal() ? Deno.consoleSize().columns : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
