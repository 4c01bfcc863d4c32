/**
 * CPU time of each thread of a process, from Linux's /proc: what the main
 * isolate, the KV's SQLite thread, the sandbox Workers and the rest (V8's
 * helper threads, the runtime's I/O threads) spent.
 */

/** CPU time per event, by thread, in µs. */
export interface ThreadCpu {
  /** The main isolate: HTTP, the listener, the executor's lanes. */
  main: number;
  /** The KV's SQLite thread (writes and fsyncs). */
  kv: number;
  /** The sandbox Workers running the Jobicolets. */
  sandbox: number;
  /** The rest: V8's helper threads (GC, compiler), the runtime's I/O threads. */
  other: number;
  total: number;
}

/**
 * CPU seconds of each thread of a process, by thread id and name, from
 * Linux's /proc (read with `ls` and `cat`: Deno asks for --allow-all to
 * read /proc itself); null where that fails.
 */
export async function threadTimes(
  pid: number,
): Promise<Map<string, { name: string; secs: number }> | null> {
  const run = async (cmd: string, args: string[]) =>
    new TextDecoder().decode(
      (await new Deno.Command(cmd, { args, stderr: "null" }).output()).stdout,
    );
  try {
    const tids = (await run("ls", [`/proc/${pid}/task`])).split(/\s+/)
      .filter((t) => /^\d+$/.test(t));
    const out = new Map<string, { name: string; secs: number }>();
    const stats = await run(
      "cat",
      tids.map((t) => `/proc/${pid}/task/${t}/stat`),
    );
    for (const stat of stats.split("\n")) {
      if (!stat) continue;
      const tid = stat.slice(0, stat.indexOf(" "));
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      // utime and stime, in clock ticks (100 per second on Linux).
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(tid, { name, secs: (Number(f[11]) + Number(f[12])) / 100 });
    }
    return out.size > 0 ? out : null;
  } catch {
    return null;
  }
}

/** CPU seconds of a process's main thread (its id is the process's); null where /proc cannot say. */
export async function mainThreadSecs(pid: number): Promise<number | null> {
  return (await threadTimes(pid))?.get(String(pid))?.secs ?? null;
}

/** CPU per event between two readings of `threadTimes`. */
export function cpuPerEvent(
  pid: number,
  before: Map<string, { name: string; secs: number }>,
  after: Map<string, { name: string; secs: number }>,
  events: number,
): ThreadCpu {
  const us = { main: 0, kv: 0, sandbox: 0, other: 0, total: 0 };
  for (const [tid, { name, secs }] of after) {
    const spent = (secs - (before.get(tid)?.secs ?? 0)) * 1e6 / events;
    const kind = tid === String(pid)
      ? "main"
      : /^sw-\d+$/.test(name)
      ? "kv"
      : /^worker-\d+$/.test(name)
      ? "sandbox"
      : "other";
    us[kind] += spent;
    us.total += spent;
  }
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    main: r(us.main),
    kv: r(us.kv),
    sandbox: r(us.sandbox),
    other: r(us.other),
    total: r(us.total),
  };
}
