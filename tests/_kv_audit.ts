/**
 * What a request did to the store: a snapshot of every key and its
 * versionstamp (what was written), and a proxy that records the keys and
 * selectors the platform reads (what was read).
 *
 * ```ts
 * const reads = new KvReadLog();
 * const h = await startHarness({ wrapKv: (kv) => reads.wrap(kv) });
 * const before = await kvSnapshot(h.kv);
 * const log = reads.start();
 * await fetch(...);
 * reads.stop();
 * assert.deepEqual(kvDiff(before, await kvSnapshot(h.kv)), []);
 * ```
 */
import { tenantQueuesPrefix } from "../components/model/queue_ref.ts";

/** Every key of the store (as text) and its versionstamp. */
export type KvSnapshot = Map<string, string>;

/** A key as text: each part with its type, so 1 and "1" differ. */
export function keyText(key: Deno.KvKey): string {
  return key.map((p) =>
    p instanceof Uint8Array
      ? `bytes:${[...p].join(",")}`
      : `${typeof p}:${String(p)}`
  ).join(" / ");
}

export async function kvSnapshot(kv: Deno.Kv): Promise<KvSnapshot> {
  const out: KvSnapshot = new Map();
  for await (const e of kv.list({ prefix: [] })) {
    out.set(keyText(e.key), e.versionstamp);
  }
  return out;
}

/** What changed between two snapshots: `+ key`, `- key`, `~ key`; empty when nothing did. */
export function kvDiff(before: KvSnapshot, after: KvSnapshot): string[] {
  const out: string[] = [];
  for (const [k, v] of after) {
    const was = before.get(k);
    if (was === undefined) out.push(`+ ${k}`);
    else if (was !== v) out.push(`~ ${k}`);
  }
  for (const k of before.keys()) if (!after.has(k)) out.push(`- ${k}`);
  return out;
}

/** One read: the method and the keys or selector bounds it named. */
export interface KvRead {
  method: "get" | "getMany" | "list";
  keys: Deno.KvKey[];
}

/** Records what the platform reads while a window is open. */
export class KvReadLog {
  #reads: KvRead[] | null = null;

  /** Opens a window; reads are collected until `stop`. */
  start(): void {
    this.#reads = [];
  }

  /** Closes the window and returns what was read in it. */
  stop(): KvRead[] {
    const reads = this.#reads ?? [];
    this.#reads = null;
    return reads;
  }

  #note(method: KvRead["method"], keys: Deno.KvKey[]): void {
    this.#reads?.push({ method, keys });
  }

  /** A view of `kv` that notes every get, getMany and list. */
  wrap(kv: Deno.Kv): Deno.Kv {
    return new Proxy(kv, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop, target);
        if (prop === "get") {
          return (
            key: Deno.KvKey,
            o?: { consistency?: Deno.KvConsistencyLevel },
          ) => {
            this.#note("get", [key]);
            return target.get(key, o);
          };
        }
        if (prop === "getMany") {
          return (
            keys: readonly Deno.KvKey[],
            o?: { consistency?: Deno.KvConsistencyLevel },
          ) => {
            this.#note("getMany", [...keys]);
            return target.getMany(keys, o);
          };
        }
        if (prop === "list") {
          return (selector: Deno.KvListSelector, o?: Deno.KvListOptions) => {
            const bounds = [
              "prefix" in selector ? selector.prefix : undefined,
              "start" in selector ? selector.start : undefined,
              "end" in selector ? selector.end : undefined,
            ].filter((k): k is Deno.KvKey => k !== undefined);
            this.#note("list", bounds);
            return target.list(selector, o);
          };
        }
        // Deno.Kv's methods need the real object as `this`.
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
}

/** Whether a key names `tenant`: a part equal to it, or a queue name `tenant/...`. */
export function keyNamesTenant(key: Deno.KvKey, tenant: string): boolean {
  return key.some((p) =>
    typeof p === "string" &&
    (p === tenant || p.startsWith(tenantQueuesPrefix(tenant)))
  );
}
