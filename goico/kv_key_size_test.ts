import assert from "node:assert/strict";
import { kvKeySize } from "./kv_key_size.ts";

/** The bytes the KV itself encodes a key part in: the longest padding it then takes under its 2,048-byte key limit. */
async function encodedByKv(kv: Deno.Kv, part: Deno.KvKeyPart): Promise<number> {
  const fits = async (n: number) => {
    try {
      await kv.atomic().delete([part, "x".repeat(n)]).commit();
      return true;
    } catch {
      return false;
    }
  };
  let lo = -1, hi = 2100;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (mid >= 0 && await fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  // The padding part takes its characters and 2 bytes.
  return 2048 - (lo + 2);
}

Deno.test("kvKeySize: each kind of key part as the KV encodes it", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const parts: Deno.KvKeyPart[] = [
      "",
      "plain",
      "\u0000",
      "a\u0000b\u0000",
      "é",
      "€uro",
      "😀",
      "\ud800 lone",
      new Uint8Array(),
      new Uint8Array([0, 1, 0, 255]),
      0,
      -1.5,
      Number.MAX_VALUE,
      NaN,
      true,
      false,
      0n,
      1n,
      255n,
      256n,
      -1n,
      2n ** 64n - 1n,
      2n ** 64n,
      -(2n ** 64n),
      2n ** 200n,
    ];
    for (const part of parts) {
      assert.equal(
        kvKeySize([part]),
        await encodedByKv(kv, part),
        `part ${typeof part === "bigint" ? `${part}n` : JSON.stringify(part)}`,
      );
    }
  } finally {
    kv.close();
  }
});

Deno.test("kvKeySize: a key is the sum of its parts", () => {
  assert.equal(kvKeySize([]), 0);
  assert.equal(kvKeySize(["queue", "ready", "t/q", 7]), 7 + 7 + 5 + 9);
});

Deno.test("kvKeySize: 300 random keys as the KV encodes them", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const chars = ["a", "\u0000", "é", "€", "😀", "\u007f", "\u0080", "\uffff"];
    const part = (): Deno.KvKeyPart => {
      switch (Math.floor(rand() * 5)) {
        case 0:
          return Array.from(
            { length: Math.floor(rand() * 20) },
            () => chars[Math.floor(rand() * chars.length)],
          ).join("");
        case 1:
          return Uint8Array.from(
            { length: Math.floor(rand() * 10) },
            () => rand() < 0.3 ? 0 : Math.floor(rand() * 256),
          );
        case 2:
          return (rand() - 0.5) * 1e6;
        case 3:
          return BigInt(Math.floor((rand() - 0.5) * 2 ** 40)) **
            BigInt(1 + Math.floor(rand() * 3));
        default:
          return rand() < 0.5;
      }
    };
    for (let i = 0; i < 300; i++) {
      const key = Array.from({ length: 1 + Math.floor(rand() * 4) }, part);
      const size = kvKeySize(key);
      // The key passes the KV's limit exactly when padded to 2,048 bytes.
      const pad = 2048 - size - 2;
      await kv.atomic().delete([...key, "x".repeat(pad)]).commit();
      await assert.rejects(
        kv.atomic().delete([...key, "x".repeat(pad + 1)]).commit(),
        /Key too large/,
      );
    }
  } finally {
    kv.close();
  }
});
