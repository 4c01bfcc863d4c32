/**
 * What the webhook cost scripts (flow_cost.ts, rate_limit_cost.ts,
 * concurrency_cost.ts) do to a platform process: deploy a package, send
 * many requests over a few connections, read a queue's counters, wait.
 */
import { TENANT } from "./_bench_package.ts";
import { BENCH_TOKEN } from "./_processes.ts";

/** The admin token's header of the bench processes. */
export const BENCH_AUTH = { authorization: `Bearer ${BENCH_TOKEN}` };

/** The counters of a queue of the bench tenant (zeros before its package exists). */
export async function queueCounters(
  url: string,
  queue: string,
): Promise<{ processed: number; depth: number; inFlight: number }> {
  const res = await fetch(`${url}/api/v1/tenants/${TENANT}/queues/${queue}`, {
    headers: BENCH_AUTH,
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return { processed: 0, depth: 0, inFlight: 0 };
  }
  if (!res.ok) {
    throw new Error(`queue ${queue}: ${res.status} ${await res.text()}`);
  }
  return await res.json();
}

/** Deploys a package given as YAML; throws unless it is created. */
export async function deployYaml(url: string, yaml: string): Promise<void> {
  const res = await fetch(`${url}/api/v1/packages`, {
    method: "POST",
    headers: { ...BENCH_AUTH, "content-type": "application/yaml" },
    body: yaml,
  });
  if (res.status !== 201) {
    throw new Error(`deploy: ${res.status} ${await res.text()}`);
  }
  await res.body?.cancel();
}

/**
 * Sends `requests` requests to `path` over `connections` connections at
 * once, request `i` with `body(i)` (to `path(i)` when it is a function);
 * throws on any answer but 200.
 */
export async function sendAll(
  url: string,
  path: string | ((i: number) => string),
  requests: number,
  body: (i: number) => string,
  connections: number,
): Promise<void> {
  let next = 0;
  const send = async () => {
    while (next < requests) {
      const i = next++;
      const to = typeof path === "string" ? path : path(i);
      const res = await fetch(`${url}${to}`, {
        method: "POST",
        headers: { ...BENCH_AUTH, "content-type": "application/json" },
        body: body(i),
      });
      if (res.status !== 200) {
        throw new Error(`send: ${res.status} ${await res.text()}`);
      }
      await res.body?.cancel();
    }
  };
  await Promise.all(Array.from({ length: connections }, send));
}

/** Polls `done` every 50 ms until it holds. */
export async function until(done: () => Promise<boolean>): Promise<void> {
  while (!await done()) await new Promise((r) => setTimeout(r, 50));
}

export { median } from "./_median.ts";
