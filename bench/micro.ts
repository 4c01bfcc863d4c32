/**
 * Runs the `deno bench` micro-benchmarks of the hot paths and summarizes
 * each case (average, p75 and p99 per iteration).
 */
export const MICRO_FILES = [
  "schema_validation_bench.ts",
  "durable_queue_bench.ts",
  "wasm_guest_bench.ts",
  "webhook_signature_bench.ts",
  "kv_value_bench.ts",
];

export interface MicroCase {
  file: string;
  group: string | null;
  name: string;
  avgNs: number;
  p75Ns: number;
  p99Ns: number;
}

/** The command line that runs them (as the orchestrator does). */
export function microArgs(): string[] {
  return [
    "bench",
    "--json",
    "--allow-read",
    "--allow-write",
    ...MICRO_FILES.map((f) => `bench/${f}`),
  ];
}

export async function microBench(): Promise<MicroCase[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: microArgs(),
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("deno bench failed");
  const report = JSON.parse(new TextDecoder().decode(out.stdout));
  const cases: MicroCase[] = [];
  for (const b of report.benches) {
    const ok = b.results?.[0]?.ok;
    if (!ok) continue;
    cases.push({
      file: String(b.origin).replace(/^.*\/bench\//, ""),
      group: b.group ?? null,
      name: b.name,
      avgNs: Math.round(ok.avg),
      p75Ns: Math.round(ok.p75),
      p99Ns: Math.round(ok.p99),
    });
  }
  return cases;
}
