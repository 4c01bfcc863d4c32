/** Test support: a {@linkcode CliIo} that records what the CLI writes. */
import type { Execution } from "./api_types.ts";
import type { CliIo } from "./cli_context.ts";

export interface CapturedIo extends CliIo {
  /** Everything written to stdout so far. */
  out(): string;
  /** Everything written to stderr so far. */
  err(): string;
  /** The questions asked on the terminal so far. */
  asked: string[];
}

export interface CaptureOptions {
  env?: Record<string, string | undefined>;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Pretend stdout and stderr are terminals. */
  tty?: boolean;
  /**
   * A terminal to ask on, typing these answers in turn (null: the end of
   * input). Absent: there is no terminal to ask on.
   */
  answers?: (string | null)[];
}

export function captureIo(options: CaptureOptions = {}): CapturedIo {
  let out = "";
  let err = "";
  const tty = options.tty ?? false;
  const asked: string[] = [];
  const answers = options.answers && [...options.answers];
  return {
    asked,
    ...(answers && {
      ask: (question: string) => {
        asked.push(question);
        err += question;
        return Promise.resolve(answers.length ? answers.shift()! : null);
      },
    }),
    stdout: { write: (t) => void (out += t), isTerminal: () => tty },
    stderr: { write: (t) => void (err += t), isTerminal: () => tty },
    env: options.env ?? {},
    fetch: options.fetch,
    signal: options.signal,
    out: () => out,
    err: () => err,
  };
}

/** A closed local port: connecting to it is refused. */
export function closedPortUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

/** A body stream that yields `chunks` (text or bytes) one by one. */
export function streamOf(
  chunks: (string | Uint8Array)[],
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i >= chunks.length) return controller.close();
      const chunk = chunks[i++];
      controller.enqueue(
        typeof chunk === "string" ? encoder.encode(chunk) : chunk,
      );
    },
  });
}

/** A recorded request of {@linkcode fakeFetch}. */
export interface SeenRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

/**
 * A fetch that answers with `handler` and records every request. The handler
 * gets the request and returns a Response.
 */
export function fakeFetch(
  handler: (req: SeenRequest) => Response | Promise<Response>,
): typeof fetch & { requests: SeenRequest[] } {
  const requests: SeenRequest[] = [];
  const f = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const seen: SeenRequest = {
      method: request.method,
      url: new URL(request.url),
      headers: request.headers,
      body: request.body ? await request.text() : "",
    };
    requests.push(seen);
    return handler(seen);
  };
  return Object.assign(f, { requests });
}

/** A JSON response. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** An application/problem+json response. */
export function problem(
  status: number,
  title: string,
  detail?: string,
  extra: Record<string, unknown> = {},
): Response {
  return new Response(
    JSON.stringify({ type: "about:blank", title, status, detail, ...extra }),
    { status, headers: { "content-type": "application/problem+json" } },
  );
}

/** A sample execution for formatting tests. */
export function sampleExecution(
  over: Partial<Execution> = {},
): Execution {
  return {
    id: "01JEXEC",
    eventId: "01JEVENT",
    tenant: "demo",
    package: "greet",
    event: "greet",
    queue: "main",
    status: "ok",
    code: 0,
    result: '{"message":"Hello Ada"}',
    error: null,
    logs: [{ level: "info", message: "greeting Ada", source: "module" }],
    attempt: 1,
    startedAt: "2025-01-02T03:04:05.006Z",
    durationMs: 12,
    ...over,
  };
}

/** Control characters but tab and newline, and the right-to-left override. */
// deno-lint-ignore no-control-regex
const TERMINAL_CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/g;

/** The characters of `text` that would act on a terminal (none, for safe output). */
export function terminalControls(text: string): string[] {
  return text.match(TERMINAL_CONTROLS) ?? [];
}
