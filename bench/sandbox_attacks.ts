/**
 * Hostile Jobicolets against the sandbox, each in a process of its own (so
 * a flood that gets through kills only that process): for each attack,
 * the process's peak RSS, when the call was answered, when its Worker was
 * free again, and the CPU the process used between the two. Loopback and
 * bounded: a process that passes `--max-rss-mb` (default 3000) is stopped
 * and reported as such.
 *
 * Run: deno run -A bench/sandbox_attacks.ts [--json]
 *
 * The attacks (modules in tests/jobicolets/):
 * - output_flood.wat `stdout`: one fd_write of 100,000 iovecs over the same
 *   64 KiB (6 GiB), 1,001 times; `log`: 100,000 env.log calls of 64 KiB;
 *   `lines`: 1,000,000 two-byte lines.
 * - bulk_bomb.wat `fill`: a loop of 100 MiB memory.fill; `table_grow`: a
 *   table grown 100,000 elements at a time.
 * - spin.wat with a 100 ms timeout and the highest budget (2e10).
 */
import { sha256Hex, WasmPool } from "@jobico/goico";
import { compileWat } from "../tests/jobicolets/compile_wat.ts";
import { JobicoletRunner } from "../components/executor/jobicolet_runner.ts";
import { DEFAULT_LIMITS } from "../components/model/runtime_limits.ts";

interface Attack {
  name: string;
  fixture: string;
  main: string;
  timeoutMs: number;
  fuel: number;
}

const ATTACKS: Attack[] = [
  {
    name: "stdout flood (6 GiB per fd_write)",
    fixture: "output_flood",
    main: "stdout",
    timeoutMs: 60_000,
    fuel: DEFAULT_LIMITS.fuel,
  },
  {
    name: "env.log flood (6 GiB)",
    fixture: "output_flood",
    main: "log",
    timeoutMs: 60_000,
    fuel: DEFAULT_LIMITS.fuel,
  },
  {
    name: "1M two-byte lines",
    fixture: "output_flood",
    main: "lines",
    timeoutMs: 60_000,
    fuel: DEFAULT_LIMITS.fuel,
  },
  {
    name: "loop of 100 MiB memory.fill",
    fixture: "bulk_bomb",
    main: "fill",
    timeoutMs: 60_000,
    fuel: DEFAULT_LIMITS.fuel,
  },
  {
    name: "table.grow loop",
    fixture: "bulk_bomb",
    main: "table_grow",
    timeoutMs: 60_000,
    fuel: DEFAULT_LIMITS.fuel,
  },
  {
    name: "spin, 100 ms timeout, budget 2e10",
    fixture: "spin",
    main: "event",
    timeoutMs: 100,
    fuel: 20_000_000_000,
  },
];

export interface AttackResult {
  name: string;
  status: string;
  error?: string;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  answeredMs: number;
  freedMs: number;
  cpuAfterAnswerMs: number;
}

function rssMiB(): number {
  const s = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1024;
}

function cpuMs(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Runs one attack in this process (the child's side). */
async function runOne(a: Attack, maxRssMb: number): Promise<AttackResult> {
  const bytes = await compileWat(a.fixture);
  const sha = await sha256Hex(bytes);
  const pool = new WasmPool({ size: 1 });
  const runner = new JobicoletRunner(() => Promise.resolve(bytes), { pool });
  const before = rssMiB();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMiB());
    if (peak > maxRssMb) {
      console.log(
        JSON.stringify({
          name: a.name,
          status: `stopped at ${maxRssMb} MiB of RSS`,
          rssBeforeMiB: Math.round(before),
          rssPeakMiB: Math.round(peak),
        }),
      );
      Deno.exit(3);
    }
  }, 10);
  const t0 = performance.now();
  const out = await runner.run(
    "bench",
    sha,
    a.main,
    new TextEncoder().encode("{}"),
    {
      ...DEFAULT_LIMITS,
      timeoutMs: a.timeoutMs,
      fuel: a.fuel,
    },
  );
  const answeredMs = performance.now() - t0;
  const c0 = cpuMs();
  await out.settled;
  const freedMs = performance.now() - t0;
  const cpuAfterAnswerMs = cpuMs() - c0;
  clearInterval(sampler);
  peak = Math.max(peak, rssMiB());
  pool.close();
  return {
    name: a.name,
    status: out.status,
    ...(out.error && { error: out.error }),
    rssBeforeMiB: Math.round(before),
    rssPeakMiB: Math.round(peak),
    answeredMs: Math.round(answeredMs),
    freedMs: Math.round(freedMs),
    cpuAfterAnswerMs,
  };
}

/** Runs every attack, each in a child process. */
export async function sandboxAttacks(
  maxRssMb = 3000,
  exitTimeoutMs = 180_000,
): Promise<AttackResult[]> {
  const results: AttackResult[] = [];
  for (const [i] of ATTACKS.entries()) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        import.meta.filename!,
        "--one",
        String(i),
        "--max-rss-mb",
        String(maxRssMb),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    // A Worker spinning in wasm keeps its process alive after the answer:
    // it is killed after exitTimeoutMs.
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill("SIGKILL");
    }, exitTimeoutMs);
    const out = await child.output();
    clearTimeout(timer);
    const line =
      new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    const base = {
      name: ATTACKS[i].name,
      rssBeforeMiB: 0,
      rssPeakMiB: 0,
      answeredMs: 0,
      freedMs: 0,
      cpuAfterAnswerMs: 0,
    };
    let r: AttackResult;
    try {
      r = { ...base, ...JSON.parse(line) };
    } catch {
      r = {
        ...base,
        status: hung ? "no answer (killed)" : `crashed (exit ${out.code})`,
      };
    }
    if (hung && !r.status.startsWith("no answer")) {
      r.status += `; the process did not exit in ${
        exitTimeoutMs / 1000
      } s (killed)`;
    }
    results.push(r);
  }
  return results;
}

if (import.meta.main) {
  const args = Deno.args;
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const maxRssMb = Number(flag("--max-rss-mb") ?? 3000);
  const one = flag("--one");
  if (one !== undefined) {
    console.log(JSON.stringify(await runOne(ATTACKS[Number(one)], maxRssMb)));
  } else {
    const results = await sandboxAttacks(maxRssMb);
    if (args.includes("--json")) console.log(JSON.stringify(results, null, 2));
    else {
      console.log(
        "| attack | outcome | RSS before -> peak (MiB) | answered (ms) | Worker free (ms) | CPU after the answer (ms) |",
      );
      console.log("| --- | --- | --- | --- | --- | --- |");
      for (const r of results) {
        console.log(
          `| ${r.name} | ${r.status}${
            r.error ? `: ${r.error.split(":")[0]}` : ""
          } | ${r.rssBeforeMiB} -> ${r.rssPeakMiB} | ${r.answeredMs} | ${r.freedMs} | ${r.cpuAfterAnswerMs} |`,
        );
      }
    }
  }
}
