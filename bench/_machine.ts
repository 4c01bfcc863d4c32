/** What the benchmarks ran on, for results.json and BENCHMARKS.md. */
export interface Machine {
  os: string;
  cores: number;
  memoryGiB: number;
  deno: string;
  v8: string;
  date: string;
}

export function machine(): Machine {
  let os = `${Deno.build.os} ${Deno.build.arch}`;
  try {
    os += ` (kernel ${Deno.osRelease()})`;
  } catch { /* --allow-sys not given */ }
  let memoryGiB = 0;
  try {
    memoryGiB = Math.round(Deno.systemMemoryInfo().total / 2 ** 30 * 10) / 10;
  } catch { /* --allow-sys not given */ }
  return {
    os,
    cores: navigator.hardwareConcurrency,
    memoryGiB,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    date: new Date().toISOString(),
  };
}
