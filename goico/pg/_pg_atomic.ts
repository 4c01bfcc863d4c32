/**
 * `kv.atomic()` on PostgreSQL: the checks and mutations collected as Deno
 * KV collects them (its limits and errors), folded to one final mutation
 * a key, and committed in one call of jobico_kv_commit (see _schema.ts).
 */
import { encodeKey } from "./_key_codec.ts";
import { encodeValue, U64 } from "./_value_codec.ts";

/** Deno KV's limits of one atomic operation. */
export const ATOMIC_LIMITS = {
  checks: 100,
  mutations: 1000,
  /** Keys and values together, in bytes. */
  totalBytes: 819_200,
  /** Keys alone, in bytes. */
  totalKeyBytes: 81_920,
  /** A key written, in bytes. */
  writeKey: 2048,
} as const;

const OPS = { sum: 1, min: 2, max: 3 } as const;
/** The longest expireIn taken: about 100 years. */
const MAX_EXPIRE_IN = 100 * 365 * 86_400_000;
const U64_RANGE = 18446744073709551616n;

/** What a commit sends to the database: one final plan per key. */
export interface CommitPlan {
  checkKeys: Uint8Array[];
  checkStamps: (string | null)[];
  adjKeys: Uint8Array[];
  adjOps: number[];
  adjOperands: string[];
  setKeys: Uint8Array[];
  setKinds: number[];
  setBytes: (Uint8Array | null)[];
  setU64: (string | null)[];
  /** Milliseconds until the entry may be deleted (expireIn), or null. */
  setExpireIn: (number | null)[];
  delKeys: Uint8Array[];
}

type Plan =
  | {
    type: "set";
    kind: number;
    bytes: Uint8Array | null;
    u64: bigint | null;
    expireIn: number | null;
  }
  | { type: "delete" }
  | { type: "adjust"; ops: [number, bigint][] };

/** The commit function: runs a plan, answers the versionstamp or null. */
export type Committer = (plan: CommitPlan) => Promise<string | null>;

/** The versionstamp as a number of the sequence (null when absent). */
export function stampNumber(versionstamp: string | null): string | null {
  if (versionstamp === null) return null;
  if (!/^[0-9a-f]{20}$/.test(versionstamp)) {
    throw new TypeError("Invalid check");
  }
  // This store writes batch 0 only: another batch matches no entry.
  if (!versionstamp.endsWith("0000")) return "-1";
  return BigInt("0x" + versionstamp.slice(0, 16)).toString();
}

/** Deno KV's form of a versionstamp: 16 hex digits of the sequence, 4 of batch. */
export function stampText(n: bigint | string | number): string {
  return BigInt(n).toString(16).padStart(16, "0") + "0000";
}

const hex = (b: Uint8Array) => {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
};

/** One atomic operation of a {@linkcode PgKv}. */
export class PgAtomicOperation implements Deno.AtomicOperation {
  #checks = new Map<string, [Uint8Array, string | null]>();
  #checkCount = 0;
  #mutations: [string, Uint8Array, Plan | [number, bigint]][] = [];
  #bytes = 0;
  #keyBytes = 0;

  constructor(private readonly commitPlan: Committer) {}

  check(...checks: Deno.AtomicCheck[]): this {
    for (const c of checks) {
      const key = encodeKey(c.key);
      const stamp = stampNumber(c.versionstamp);
      this.#checkCount++;
      this.#bytes += key.length;
      const id = hex(key);
      // The same key checked twice: both must hold.
      const before = this.#checks.get(id);
      if (before && before[1] !== stamp) {
        before[1] = "-1";
      } else this.#checks.set(id, [key, stamp]);
    }
    return this;
  }

  mutate(...mutations: Deno.KvMutation[]): this {
    for (const m of mutations) {
      switch (m.type) {
        case "set":
          this.set(m.key, m.value);
          break;
        case "delete":
          this.delete(m.key);
          break;
        case "sum":
        case "min":
        case "max":
          this[m.type](m.key, m.value.value);
          break;
        default:
          throw new TypeError(
            `Invalid mutation type "${(m as { type: string }).type}"`,
          );
      }
    }
    return this;
  }

  /** A written key (a delete's does not count towards the keys' total). */
  #key(key: Deno.KvKey, counted = true): [string, Uint8Array] {
    const bytes = encodeKey(key);
    if (bytes.length === 0) throw new TypeError("key cannot be empty");
    if (bytes.length > ATOMIC_LIMITS.writeKey) {
      throw new TypeError(
        `Key too large for write (max ${ATOMIC_LIMITS.writeKey} bytes)`,
      );
    }
    if (counted) this.#keyBytes += bytes.length;
    this.#bytes += bytes.length;
    return [hex(bytes), bytes];
  }

  #adjust(op: number, key: Deno.KvKey, n: bigint): this {
    // Deno KV's own checks and errors for the operand.
    const operand = new Deno.KvU64(n).value;
    const [id, bytes] = this.#key(key);
    this.#bytes += 8;
    this.#mutations.push([id, bytes, [op, operand]]);
    return this;
  }

  sum(key: Deno.KvKey, n: bigint): this {
    return this.#adjust(OPS.sum, key, n);
  }

  min(key: Deno.KvKey, n: bigint): this {
    return this.#adjust(OPS.min, key, n);
  }

  max(key: Deno.KvKey, n: bigint): this {
    return this.#adjust(OPS.max, key, n);
  }

  set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }): this {
    const expireIn = options?.expireIn;
    if (expireIn !== undefined) {
      if (!Number.isInteger(expireIn) || expireIn < 0) {
        throw new TypeError(
          `expireIn must be a non-negative integer: received ${expireIn}`,
        );
      }
      if (expireIn > MAX_EXPIRE_IN) {
        throw new TypeError(
          `Invalid mutation: expireIn is too large: ${BigInt(expireIn)}`,
        );
      }
    }
    const [id, bytes] = this.#key(key);
    const v = encodeValue(value);
    this.#bytes += v.size;
    this.#mutations.push([id, bytes, {
      type: "set",
      kind: v.kind,
      bytes: v.bytes,
      u64: v.u64,
      expireIn: expireIn ?? null,
    }]);
    return this;
  }

  delete(key: Deno.KvKey): this {
    const [id, bytes] = this.#key(key, false);
    this.#mutations.push([id, bytes, { type: "delete" }]);
    return this;
  }

  enqueue(): this {
    throw new TypeError(
      "kv.enqueue is not supported by the PostgreSQL store (the platform's queues are DurableQueue records)",
    );
  }

  async commit(): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    if (this.#checkCount > ATOMIC_LIMITS.checks) {
      throw new TypeError(`Too many checks (max ${ATOMIC_LIMITS.checks})`);
    }
    if (this.#mutations.length > ATOMIC_LIMITS.mutations) {
      throw new TypeError(
        `Too many mutations (max ${ATOMIC_LIMITS.mutations})`,
      );
    }
    if (this.#keyBytes > ATOMIC_LIMITS.totalKeyBytes) {
      throw new TypeError(
        `Total key size too large (max ${ATOMIC_LIMITS.totalKeyBytes} bytes)`,
      );
    }
    if (this.#bytes > ATOMIC_LIMITS.totalBytes) {
      throw new TypeError(
        `Total mutation size too large (max ${ATOMIC_LIMITS.totalBytes} bytes)`,
      );
    }
    const plan = this.#plan();
    const stamp = await this.commitPlan(plan);
    return stamp === null
      ? { ok: false }
      : { ok: true, versionstamp: stampText(stamp) };
  }

  /** Folds each key's mutations, in order, to one. */
  #plan(): CommitPlan {
    const final = new Map<string, [Uint8Array, Plan]>();
    for (const [id, key, m] of this.#mutations) {
      const before = final.get(id)?.[1];
      if (!Array.isArray(m)) {
        final.set(id, [key, m]);
        continue;
      }
      const [op, n] = m;
      if (!before) final.set(id, [key, { type: "adjust", ops: [[op, n]] }]);
      else if (before.type === "adjust") before.ops.push([op, n]);
      else if (before.type === "delete") {
        final.set(id, [key, {
          type: "set",
          kind: U64,
          bytes: null,
          u64: n,
          expireIn: null,
        }]);
      } else {
        if (before.kind !== U64) {
          const name = Object.entries(OPS).find(([, v]) => v === op)![0];
          throw new TypeError(
            `Failed to perform '${name}' mutation on a non-U64 value in the database`,
          );
        }
        const cur = before.u64!;
        before.u64 = op === OPS.sum
          ? (cur + n) % U64_RANGE
          : op === OPS.min
          ? (cur < n ? cur : n)
          : (cur > n ? cur : n);
      }
    }
    const plan: CommitPlan = {
      checkKeys: [],
      checkStamps: [],
      adjKeys: [],
      adjOps: [],
      adjOperands: [],
      setKeys: [],
      setKinds: [],
      setBytes: [],
      setU64: [],
      setExpireIn: [],
      delKeys: [],
    };
    for (const [key, stamp] of this.#checks.values()) {
      plan.checkKeys.push(key);
      plan.checkStamps.push(stamp);
    }
    // Keys in order, so that commits lock rows in one order.
    const ordered = [...final.entries()].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0
    );
    for (const [, [key, p]] of ordered) {
      if (p.type === "delete") plan.delKeys.push(key);
      else if (p.type === "set") {
        plan.setKeys.push(key);
        plan.setKinds.push(p.kind);
        plan.setBytes.push(p.bytes);
        plan.setU64.push(p.u64 === null ? null : p.u64.toString());
        plan.setExpireIn.push(p.expireIn);
      } else {
        for (const [op, n] of p.ops) {
          plan.adjKeys.push(key);
          plan.adjOps.push(op);
          plan.adjOperands.push(n.toString());
        }
      }
    }
    return plan;
  }
}
