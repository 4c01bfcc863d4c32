import assert from "node:assert/strict";
import {
  DEFAULT_TOLERANCE_SEC,
  MAX_SIGNATURES,
  signWebhook,
  verifyWebhook,
} from "./webhook_signature.ts";

const SECRET = "whsec_test_0123456789";
const BODY = '{"data":[{"name":"Ada"}]}';
const T = 1_700_000_000;
const NOW = T * 1000 + 400;

async function hex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(message),
  );
  return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

function verify(header: string | null, over: Partial<{
  body: Uint8Array | string;
  secrets: string[];
  nowMs: number;
  toleranceSec: number;
}> = {}) {
  return verifyWebhook({
    header,
    body: BODY,
    secrets: [SECRET],
    nowMs: NOW,
    ...over,
  });
}

function reason(result: Awaited<ReturnType<typeof verifyWebhook>>): string {
  assert.equal(result.ok, false, "refused");
  return (result as { reason: string }).reason;
}

Deno.test("signWebhook is HMAC-SHA256 of `<t>.<body>`, as hex", async () => {
  const header = await signWebhook(SECRET, BODY, T);
  assert.equal(header, `t=${T},v1=${await hex(SECRET, `${T}.${BODY}`)}`);
  // The README's example, computed with openssl.
  assert.equal(
    await signWebhook("s3cret", '{"data":[{"name":"Ada"}]}', 1700000000),
    "t=1700000000,v1=c65cfaaafea44fffc1dc513a75b3178a77b8744216ff4c79833c66261e113930",
  );
  const bytes = new TextEncoder().encode(BODY);
  assert.equal(await signWebhook(SECRET, bytes, T), header);
});

Deno.test("signWebhook refuses an empty secret and a bad timestamp", async () => {
  await assert.rejects(() => signWebhook("", BODY, T), TypeError);
  for (const t of [-1, 1.5, NaN, 2 ** 53]) {
    await assert.rejects(() => signWebhook(SECRET, BODY, t), RangeError);
  }
});

Deno.test("a signed body verifies, string or bytes", async () => {
  const header = await signWebhook(SECRET, BODY, T);
  const v1 = header.split("v1=")[1];
  assert.deepEqual(await verify(header), {
    ok: true,
    timestamp: T,
    signature: v1,
    replayId: v1,
  });
  assert.equal(
    (await verify(header, { body: new TextEncoder().encode(BODY) })).ok,
    true,
  );
  // Upper-case hex and spaces around entries are fine.
  const loose = ` t=${T} , v1=${v1.toUpperCase()} `;
  assert.deepEqual(await verify(loose), {
    ok: true,
    timestamp: T,
    signature: v1,
    replayId: v1,
  });
});

Deno.test("raw bytes are signed as they are, not as text", async () => {
  const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]); // not UTF-8
  const header = await signWebhook(SECRET, bytes, T);
  assert.equal((await verify(header, { body: bytes })).ok, true);
  const decoded = new TextDecoder().decode(bytes);
  assert.equal((await verify(header, { body: decoded })).ok, false);
});

Deno.test("any change to the body, timestamp or secret is refused", async () => {
  const header = await signWebhook(SECRET, BODY, T);
  const noMatch =
    'No signature in the "Jobico-Signature" header matches the webhook secret: sign "<t>.<raw body>" with HMAC-SHA256';
  assert.equal(reason(await verify(header, { body: BODY + " " })), noMatch);
  assert.equal(reason(await verify(header, { secrets: ["other"] })), noMatch);
  const shifted = header.replace(`t=${T}`, `t=${T + 1}`);
  assert.equal(reason(await verify(shifted)), noMatch);
  const reserialized = JSON.stringify(JSON.parse(BODY), null, 1);
  assert.equal(reason(await verify(header, { body: reserialized })), noMatch);
});

Deno.test("any v1 entry may match any secret (rotation)", async () => {
  const oldHeader = await signWebhook("old-secret", BODY, T);
  const newHeader = await signWebhook("new-secret", BODY, T);
  const secrets = ["new-secret", "old-secret"];
  assert.equal((await verify(oldHeader, { secrets })).ok, true);
  assert.equal((await verify(newHeader, { secrets })).ok, true);
  const oldV1 = oldHeader.split("v1=")[1];
  const both = `t=${T},v1=${"0".repeat(64)},v1=${oldV1},v0=ignored,x`;
  // The replay id is the first secret's HMAC, whichever entry matched: a
  // copy keeping only another valid entry is the same request.
  const newV1 = newHeader.split("v1=")[1];
  assert.deepEqual(await verify(both, { secrets }), {
    ok: true,
    timestamp: T,
    signature: oldV1,
    replayId: newV1,
  });
  const twoValid = `t=${T},v1=${newV1},v1=${oldV1}`;
  const onlyOld = `t=${T},v1=${oldV1}`;
  const a = await verify(twoValid, { secrets });
  const b = await verify(onlyOld, { secrets });
  assert.ok(a.ok && b.ok && a.replayId === b.replayId);
  // Empty secrets are skipped; no secret at all is said so.
  assert.equal(
    (await verify(oldHeader, { secrets: ["", "old-secret"] })).ok,
    true,
  );
  assert.equal(
    reason(await verify(oldHeader, { secrets: [] })),
    "No webhook secret is configured to verify the signature",
  );
});

Deno.test("the timestamp must be within the window", async () => {
  const header = await signWebhook(SECRET, BODY, T);
  const tol = DEFAULT_TOLERANCE_SEC;
  assert.equal(
    (await verify(header, { nowMs: (T + tol) * 1000 + 999 })).ok,
    true,
  );
  assert.equal((await verify(header, { nowMs: (T - tol) * 1000 })).ok, true);
  assert.equal(
    reason(await verify(header, { nowMs: (T + tol + 12) * 1000 })),
    `Signature timestamp ${T} is 12 seconds outside the 300-second window (312 seconds old): sign with the current time`,
  );
  assert.equal(
    reason(await verify(header, { nowMs: (T - 400) * 1000 })),
    `Signature timestamp ${T} is 100 seconds outside the 300-second window (400 seconds ahead): sign with the current time`,
  );
  assert.match(
    reason(await verify(header, { nowMs: (T + 11) * 1000, toleranceSec: 10 })),
    /is 1 seconds outside the 10-second window/,
  );
});

Deno.test("a bad clock or tolerance is a caller's bug and throws", async () => {
  const header = await signWebhook(SECRET, BODY, T);
  await assert.rejects(() => verify(header, { nowMs: NaN }), TypeError);
  for (const toleranceSec of [-1, NaN]) {
    await assert.rejects(() => verify(header, { toleranceSec }), RangeError);
  }
});

Deno.test("a missing or malformed header says what is expected", async () => {
  const v1 = "ab".repeat(32);
  for (const header of [null, undefined, "", "  "]) {
    assert.equal(
      reason(await verify(header as string | null)),
      'Missing "Jobico-Signature" header: expected "t=<unix seconds>,v1=<64 hex digits>"',
    );
  }
  const cases: [string, string][] = [
    [`v1=${v1}`, 'no "t="'],
    [`t=${T}`, 'no "v1="'],
    [`t=${T},t=${T},v1=${v1}`, 'more than one "t="'],
    [
      `t=soon,v1=${v1}`,
      '"t=" is "soon", not whole seconds since the Unix epoch',
    ],
    [`t=-5,v1=${v1}`, '"t=" is "-5", not whole seconds since the Unix epoch'],
    [`t,v1=${v1}`, '"t=" is "", not whole seconds since the Unix epoch'],
    [`t=${T},v1=abc`, '"v1=" is "abc", not 64 hex digits'],
    [
      `t=${T},v1=${"zz".repeat(32)}`,
      '"v1=" is "zzzzzzzzzzzzzzzzz...", not 64 hex digits',
    ],
    [
      `t=${T},${`v1=${v1},`.repeat(MAX_SIGNATURES + 1)}`,
      `more than ${MAX_SIGNATURES} "v1=" entries`,
    ],
    ["sha256=abc", 'no "t="'],
  ];
  for (const [header, what] of cases) {
    assert.equal(
      reason(await verify(header)),
      `Malformed "Jobico-Signature" header (${what}): expected "t=<unix seconds>,v1=<64 hex digits>"`,
      header,
    );
  }
});

Deno.test("many secrets rotate through the key cache", async () => {
  for (let i = 0; i < 300; i++) {
    const secret = `secret-${i}`;
    const header = await signWebhook(secret, BODY, T);
    assert.equal((await verify(header, { secrets: [secret] })).ok, true);
  }
  const header = await signWebhook("secret-0", BODY, T);
  assert.equal((await verify(header, { secrets: ["secret-0"] })).ok, true);
});

Deno.test({
  name: "the README's openssl line produces an accepted signature",
  ignore: !(await which("openssl")), // shown as ignored without openssl
}, async () => {
  // The sender's line of README.md ("Webhook authentication"), run by bash.
  const readme = await Deno.readTextFile(
    new URL("../../README.md", import.meta.url),
  );
  const line = readme.match(/^sig=\$\(printf .*openssl.*$/m)?.[0];
  assert.ok(line, "README.md has the openssl line");
  assert.ok(readme.includes(`-H "Jobico-Signature: t=$t,v1=$sig"`));
  const script = `set -eu\nsecret="$1"; body="$2"; t="$3"\n${line}\n` +
    `printf 't=%s,v1=%s' "$t" "$sig"`;
  const body = '{"data": [{"name": "Ada", "note": "50% off, \\\\n é"}]}';
  const out = await new Deno.Command("bash", {
    args: ["-c", script, "bash", SECRET, body, String(T)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const header = new TextDecoder().decode(out.stdout);
  assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.equal(header, await signWebhook(SECRET, body, T));
  assert.equal((await verify(header, { body })).ok, true);
});

async function which(command: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${command}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false; // no shell, or no permission to run one
  }
}
