/**
 * Deploys a package with one event, `run`, whose runtime runs one module:
 * the shortest way for a test to run a Jobicolet end to end.
 */
import type { Harness } from "./_harness.ts";

export interface OneModule {
  tenant: string;
  /** The file name the module is uploaded as, e.g. `spin.wasm`. */
  file: string;
  bytes: Uint8Array;
  /** The main function (`mainfuncname`). Default `event`. */
  main?: string;
  /** The runtime's `limits`, as YAML flow text, e.g. `{timeoutms: 100}`. */
  limits?: string;
  /** The runtime's retries. Default 0. */
  retries?: number;
}

/** Uploads the module and an open schema and deploys the package `one`. */
export async function deployOneModule(h: Harness, m: OneModule): Promise<void> {
  await h.upload(m.tenant, m.file, m.bytes);
  await h.upload(m.tenant, "any.json", JSON.stringify({}));
  await h.deploy(`
id: one
tenant: ${m.tenant}
queues: [{id: q}]
jobs:
  - event: {id: run, schema: {id: s, schemaref: any.json}, supplierqueue: q, runtime: r}
runtimes:
  - id: r
    moduleref: ${m.file}
    mainfuncname: ${m.main ?? "event"}
    retries: ${m.retries ?? 0}
${m.limits ? `    limits: ${m.limits}\n` : ""}`);
}
