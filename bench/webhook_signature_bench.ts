/**
 * What verifying a signed webhook costs on the listener's hot path: one
 * `verifyWebhook` of a 1 KiB body with the secret's key already cached, the
 * same with two secrets where the second matches (a rotation), a refusal that
 * needs no HMAC (stale timestamp), and `signWebhook` for comparison.
 *
 * Run: deno bench bench/webhook_signature_bench.ts
 */
import {
  signWebhook,
  verifyWebhook,
} from "../components/listener/webhook_signature.ts";

const body = new Uint8Array(1024).fill(0x61);
const secret = "whsec_bench_0123456789abcdef";
const nowMs = Date.now();
const t = Math.floor(nowMs / 1000);
const header = await signWebhook(secret, body, t);

async function accept(secrets: string[]): Promise<void> {
  const result = await verifyWebhook({ header, body, secrets, nowMs });
  if (!result.ok) throw new Error(result.reason);
}

Deno.bench("verify 1 KiB, one secret", { baseline: true }, async () => {
  await accept([secret]);
});

Deno.bench("verify 1 KiB, the second of two secrets", async () => {
  await accept(["whsec_bench_new", secret]);
});

Deno.bench("refuse a stale timestamp (no HMAC)", async () => {
  const result = await verifyWebhook({
    header,
    body,
    secrets: [secret],
    nowMs: nowMs + 3_600_000,
  });
  if (result.ok) throw new Error("accepted a stale signature");
});

Deno.bench("sign 1 KiB", async () => {
  await signWebhook(secret, body, t);
});
