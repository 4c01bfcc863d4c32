import assert from "node:assert/strict";
import { verifyWebhook } from "../../components/listener/webhook_signature.ts";
import { captureIo, type CaptureOptions, fakeFetch } from "../_capture_io.ts";
import { run } from "../main.ts";

async function jobico(args: string[], options: CaptureOptions = {}) {
  const io = captureIo(options);
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

interface Captured {
  path: string;
  headers: Headers;
  body: Uint8Array;
}

/** A listener stand-in on a real port that records each request's raw body. */
async function withServer(
  fn: (url: string, seen: Captured[]) => Promise<void>,
): Promise<void> {
  const seen: Captured[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      seen.push({
        path: new URL(req.url).pathname,
        headers: req.headers,
        body: new Uint8Array(await req.arrayBuffer()),
      });
      return Response.json({ accepted: 1, ids: ["e1"] });
    },
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

Deno.test("send --sign signs the exact body it sends", async () => {
  await withServer(async (url, seen) => {
    const secret = "whsec_cli_test";
    const r = await jobico([
      "--url",
      url,
      "--token",
      "tok",
      "send",
      "demo",
      "order",
      '{"name":"Zoë","note":"50% off"}',
      "--sign",
      secret,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "Accepted 1 item for demo/order\ne1\n");
    const [req] = seen;
    assert.equal(req.path, "/events/demo/order");
    assert.equal(req.headers.get("authorization"), "Bearer tok");
    const header = req.headers.get("jobico-signature");
    assert.match(header ?? "", /^t=\d+,v1=[0-9a-f]{64}$/);
    const verified = await verifyWebhook({
      header,
      body: req.body,
      secrets: [secret],
      nowMs: Date.now(),
    });
    assert.equal(verified.ok, true, JSON.stringify(verified));
    assert.ok(
      verified.ok && Math.abs(verified.timestamp - Date.now() / 1000) < 5,
    );
    const other = await verifyWebhook({
      header,
      body: req.body,
      secrets: ["whsec_other"],
      nowMs: Date.now(),
    });
    assert.equal(other.ok, false);
  });
});

Deno.test("send signs with JOBICO_WEBHOOK_SECRET, and not without it", async () => {
  await withServer(async (url, seen) => {
    const env = { JOBICO_URL: url, JOBICO_WEBHOOK_SECRET: "from-env" };
    const signed = await jobico(["send", "demo", "order", "1"], { env });
    assert.equal(signed.code, 0, signed.err);
    const ok = await verifyWebhook({
      header: seen[0].headers.get("jobico-signature"),
      body: seen[0].body,
      secrets: ["from-env"],
      nowMs: Date.now(),
    });
    assert.equal(ok.ok, true);

    // --sign wins over the variable.
    const flag = await jobico(["send", "demo", "order", "1", "--sign", "f"], {
      env,
    });
    assert.equal(flag.code, 0, flag.err);
    const byFlag = await verifyWebhook({
      header: seen[1].headers.get("jobico-signature"),
      body: seen[1].body,
      secrets: ["f"],
      nowMs: Date.now(),
    });
    assert.equal(byFlag.ok, true);

    const plain = await jobico(["send", "demo", "order", "1"], {
      env: { JOBICO_URL: url },
    });
    assert.equal(plain.code, 0, plain.err);
    assert.equal(seen[2].headers.get("jobico-signature"), null);
    assert.equal(new TextDecoder().decode(seen[2].body), '{"data":[1]}');
  });
});

Deno.test("send --sign with an empty secret exits 2", async () => {
  const noFetch = fakeFetch(() => {
    throw new Error("fetch must not be called");
  });
  const r = await jobico(["send", "demo", "order", "1", "--sign", ""], {
    fetch: noFetch,
  });
  assert.equal(r.code, 2);
  assert.equal(
    r.err,
    "error: The webhook secret of --sign is empty\n" +
      'hint: Print it with "jobico tenant webhook-secret demo"\n',
  );
  assert.equal(noFetch.requests.length, 0);
});
