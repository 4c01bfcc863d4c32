/**
 * The execution-stream scenario of the abuse benchmarks: against a platform
 * that runs every component with the bench package deployed, it opens
 * `readers` streams that read everything (fetch, in this process) and
 * `idle` streams that send their request, read the answer's first bytes and
 * then never read again (plain TCP), drives single-item ingest (wrk or
 * bench/load_gen.ts, in its own process) for `seconds`, and reports:
 *
 * - the ingest rate (requests answered 200 per second, items per second)
 *   and its latency;
 * - executions recorded per second meanwhile (the queue's `processed`);
 * - what the readers received (events per reader per second);
 * - the server's RSS (VmRSS of /proc/<pid>/status) before the streams,
 *   at its peak during the run and after it;
 * - what became of the idle streams: refused (429), or closed by the
 *   server (dropped, then cut) within `settleMs` after the load.
 *
 * Loopback only, bounded in time: the load lasts `seconds`, the wait after
 * it `settleMs`, and the run stops early (idle sockets closed) if the
 * server's RSS passes `maxRssMiB` (a server without stream limits grows
 * by gigabytes).
 */
import { eventBody } from "./_bench_package.ts";
import { runLoad } from "./_load.ts";

export interface SseAbuseTarget {
  /** e.g. http://127.0.0.1:port */
  url: string;
  /** The server's process id, for its RSS. */
  pid: number;
  /** A token that may read the tenant's executions and send its events. */
  token: string;
  tenant: string;
  event: string;
  /** The queue of `event`, for the executions recorded meanwhile. */
  queue: string;
}

export interface SseAbuseOptions {
  /** Streams that read everything. */
  readers: number;
  /** Streams that never read. */
  idle: number;
  seconds: number;
  /** Ingest connections. */
  connections: number;
  /** Items per ingest request. Default 1. */
  batch?: number;
  /** How long to wait after the load for the server to close the idle streams. Default 15 s. */
  settleMs?: number;
  /** Stop early when the server's RSS passes this. Default 2048 MiB. */
  maxRssMiB?: number;
}

export interface SseAbuseResult {
  readers: number;
  idle: number;
  ingest: {
    /** Requests answered 200 per second. */
    rps: number;
    /** Items accepted per second (rps x batch). */
    itemsPerSec: number;
    p50Ms: number;
    p99Ms: number;
    non2xx: number;
    errors: number;
  };
  /** Executions recorded per second during the load. */
  recordedPerSec: number;
  /** CPU the server used during the load, in cores (1 = one core busy). */
  serverCores: number;
  /** CPU this process (the stream clients) used during the load, in cores. */
  clientCores: number;
  /**
   * Server CPU per accepted event, in ms: what one event costs the server
   * (accept, execute, record, stream), steadier than the rate on a busy
   * machine.
   */
  serverMsPerEvent: number;
  /** Streams answered 429 (limits reached). */
  refused: { readers: number; idle: number };
  /** Execution events received per reader per second, on average. */
  perReaderPerSec: number;
  rssMiB: { before: number; peak: number; after: number };
  /** Idle streams the server closed (dropped, then cut) by the end. */
  idleClosedByServer: number;
  /** Idle streams still open at the end. */
  idleStillOpen: number;
  /** Set when the run was stopped because the RSS passed `maxRssMiB`. */
  stoppedEarly?: string;
  /** When it was stopped, in seconds from the start of the load. */
  stoppedAfterSeconds?: number;
}

/** CPU seconds a process has used, user and system (0 where /proc is not readable). */
export async function cpuSeconds(pid: number | "self"): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // The fields after the command name, which is in parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** VmRSS of a process in MiB (0 where /proc is not readable). */
export async function rssMiB(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

const STREAM = (t: SseAbuseTarget) =>
  `/api/v1/tenants/${t.tenant}/executions/stream`;

/** A stream that reads everything and counts its execution events. */
async function openReader(
  t: SseAbuseTarget,
  signal: AbortSignal,
): Promise<{ status: number; events: () => number; done: Promise<void> }> {
  const res = await fetch(t.url + STREAM(t), {
    headers: { authorization: `Bearer ${t.token}` },
    signal,
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status, events: () => 0, done: Promise.resolve() };
  }
  let events = 0;
  const done = (async () => {
    const decoder = new TextDecoder();
    let tail = "";
    try {
      for await (const chunk of res.body!) {
        const text = tail + decoder.decode(chunk, { stream: true });
        for (
          let i = text.indexOf("event: execution\n");
          i >= 0;
          i = text.indexOf("event: execution\n", i + 1)
        ) events++;
        // A marker cut between two chunks is found in the next one.
        tail = text.slice(-16);
      }
    } catch {
      // Aborted at the end of the run.
    }
  })();
  return { status: 200, events: () => events, done };
}

/** A stream that reads the answer's first bytes (its status), then never again. */
async function openIdle(
  t: SseAbuseTarget,
): Promise<{ status: number; conn: Deno.TcpConn }> {
  const u = new URL(t.url);
  const conn = await Deno.connect({
    hostname: u.hostname,
    port: Number(u.port),
  });
  await conn.write(
    new TextEncoder().encode(
      `GET ${STREAM(t)} HTTP/1.1\r\nhost: ${u.host}\r\n` +
        `authorization: Bearer ${t.token}\r\naccept: text/event-stream\r\n\r\n`,
    ),
  );
  const buf = new Uint8Array(512);
  const n = await conn.read(buf);
  const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  return { status, conn };
}

/** Whether the server has closed the connection (reads what is left, for at most `ms`). */
async function closedByServer(
  conn: Deno.TcpConn,
  ms: number,
): Promise<boolean> {
  const buf = new Uint8Array(1 << 20);
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"timeout">((
        res,
      ) => (timer = setTimeout(() => res("timeout"), left))),
    ]);
    clearTimeout(timer);
    if (r === "timeout") return false;
    if (r === null) return true;
  }
}

async function processed(t: SseAbuseTarget): Promise<number> {
  const res = await fetch(
    `${t.url}/api/v1/tenants/${t.tenant}/queues/${t.queue}`,
    { headers: { authorization: `Bearer ${t.token}` } },
  );
  const body = await res.json();
  if (res.status !== 200) throw new Error(`queue stats: ${res.status}`);
  return Number(body.processed ?? 0);
}

/** Runs the scenario against a running platform (see the module doc). */
export async function sseStreamsScenario(
  t: SseAbuseTarget,
  o: SseAbuseOptions,
): Promise<SseAbuseResult> {
  const settleMs = o.settleMs ?? 15_000;
  const maxRss = o.maxRssMiB ?? 2048;
  const before = await rssMiB(t.pid);
  const ctrl = new AbortController();
  const readers = [];
  for (let i = 0; i < o.readers; i++) {
    readers.push(await openReader(t, ctrl.signal));
  }
  const idle: { status: number; conn: Deno.TcpConn }[] = [];
  for (let i = 0; i < o.idle; i++) idle.push(await openIdle(t));
  let peak = await rssMiB(t.pid);
  let stoppedEarly: string | undefined;
  let stoppedAt: number | undefined;
  let loadStart = performance.now();
  const closeIdle = () => {
    for (const s of idle) {
      try {
        s.conn.close();
      } catch { /* closed */ }
    }
  };
  const sampler = setInterval(async () => {
    const rss = await rssMiB(t.pid);
    peak = Math.max(peak, rss);
    if (rss > maxRss && !stoppedEarly) {
      stoppedEarly = `the server's RSS passed ${maxRss} MiB (${rss} MiB)`;
      stoppedAt = (performance.now() - loadStart) / 1000;
      closeIdle();
    }
  }, 200);
  try {
    const p0 = await processed(t);
    const e0 = readers.reduce((n, r) => n + r.events(), 0);
    const c0 = await cpuSeconds(t.pid);
    const self0 = await cpuSeconds("self");
    const t0 = performance.now();
    loadStart = t0;
    const load = await runLoad({
      url: `${t.url}/events/${t.tenant}/${t.event}`,
      body: eventBody(o.batch ?? 1),
      headers: { authorization: `Bearer ${t.token}` },
      connections: o.connections,
      seconds: o.seconds,
    });
    const secs = (performance.now() - t0) / 1000;
    const serverCores = (await cpuSeconds(t.pid) - c0) / secs;
    const clientCores = (await cpuSeconds("self") - self0) / secs;
    const p1 = await processed(t);
    const e1 = readers.reduce((n, r) => n + r.events(), 0);
    const open = readers.filter((r) => r.status === 200).length;
    const open1 = idle.filter((s) => s.status === 200);
    // The idle streams the server closes: read what is left of each, all at once.
    const closed = stoppedEarly ? [] : await Promise.all(
      open1.map((s) => closedByServer(s.conn, settleMs)),
    );
    const after = await rssMiB(t.pid);
    // Sockets closed here (stopped early) were not closed by the server.
    const closedCount = stoppedEarly ? 0 : closed.filter(Boolean).length;
    return {
      readers: o.readers,
      idle: o.idle,
      ingest: {
        rps: Math.round(load.rps),
        itemsPerSec: Math.round(load.rps * (o.batch ?? 1)),
        p50Ms: load.p50Ms,
        p99Ms: load.p99Ms,
        non2xx: load.non2xx,
        errors: load.errors,
      },
      recordedPerSec: Math.round((p1 - p0) / secs),
      serverCores: Math.round(serverCores * 100) / 100,
      clientCores: Math.round(clientCores * 100) / 100,
      serverMsPerEvent: load.rps > 0
        ? Math.round((serverCores / (load.rps * (o.batch ?? 1))) * 1e6) / 1000
        : 0,
      refused: {
        readers: readers.filter((r) => r.status === 429).length,
        idle: idle.filter((s) => s.status === 429).length,
      },
      perReaderPerSec: open ? Math.round((e1 - e0) / open / secs) : 0,
      rssMiB: { before, peak: Math.max(peak, after), after },
      idleClosedByServer: closedCount,
      idleStillOpen: open1.length - closedCount,
      ...(stoppedEarly && {
        stoppedEarly,
        stoppedAfterSeconds: Math.round(stoppedAt ?? 0),
      }),
    };
  } finally {
    clearInterval(sampler);
    ctrl.abort();
    await Promise.all(readers.map((r) => r.done));
    closeIdle();
  }
}
