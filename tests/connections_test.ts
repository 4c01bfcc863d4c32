/**
 * The platform under abusive connections, as `deno task dev` runs it
 * (main.ts in its own process, often under a low file descriptor limit):
 * idle sockets, headers sent a byte at a time, bodies that never come,
 * idle keep-alive connections, thousands of them at once.
 */
import assert from "node:assert/strict";
import { deployGreetOver } from "./_deploy_over_http.ts";
import { RUN_CLI, RUN_MAIN } from "./_run_main.ts";
import { type SpawnedServer, spawnServer } from "./_spawn_server.ts";

const TOKEN = "t0ken-conns-admin-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const enc = new TextEncoder();

async function startMain(
  env: Record<string, string>,
  fdLimit?: { soft: number; hard?: number },
  denoArgs: string[] = RUN_MAIN,
): Promise<SpawnedServer & { data: string }> {
  const data = await Deno.makeTempDir({ prefix: "jobico-conns-" });
  const server = await spawnServer(denoArgs, {
    JOBICO_DATA: data,
    JOBICO_ADMIN_TOKEN: TOKEN,
    JOBICO_WORKERS: "1",
    ...env,
  }, { fdLimit });
  return { ...server, data };
}

async function stopMain(server: SpawnedServer & { data: string }) {
  const status = await server.stop();
  await Deno.remove(server.data, { recursive: true }).catch(() => {});
  return status;
}

/** A client that opens a fresh connection for each request, as a well-behaved one does after a reset. */
const fresh = () => Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

function addr(url: string) {
  const u = new URL(url);
  return { hostname: u.hostname, port: Number(u.port) };
}

/** Reads until the server closes the connection; throws after `ms`. */
async function readToClose(conn: Deno.Conn, ms = 20_000): Promise<string> {
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    conn.close();
  }, ms);
  let text = "";
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf).catch(() => null); // a reset closes too
      if (late) throw new Error(`Still open after ${ms} ms; read: ${text}`);
      if (n === null) return text;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Reads what the server sent so far (at least one byte). */
async function readSome(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(16 * 1024);
  const n = await conn.read(buf);
  return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
}

/**
 * `count` clients that each send the start of a request and then a byte
 * every `everyMs`, and connect again `againMs` after the server cuts them,
 * until `stop()`.
 */
function slowClients(
  url: string,
  count: number,
  everyMs: number,
  againMs = 1000,
) {
  let stopping = false;
  let connects = 0;
  let cuts = 0;
  const open = new Set<Deno.Conn>();
  const head = "POST /events/demo/greet HTTP/1.1\r\nhost: x\r\nx-slow: ";
  const one = async () => {
    while (!stopping) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect(addr(url));
      } catch {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      connects++;
      open.add(conn);
      try {
        await conn.write(enc.encode(head));
        while (!stopping) {
          await new Promise((r) => setTimeout(r, everyMs));
          await conn.write(enc.encode("a"));
        }
      } catch {
        cuts++;
      } finally {
        open.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await new Promise((r) => setTimeout(r, againMs));
    }
  };
  const all = Promise.all(Array.from({ length: count }, one));
  return {
    stats: () => ({ connects, cuts, open: open.size }),
    stop: async () => {
      stopping = true;
      for (const c of open) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await all;
    },
  };
}

/** The hard file descriptor limit of this test process (it holds the clients' sockets). */
async function ownHardLimit(): Promise<number> {
  const out = await new Deno.Command("sh", {
    args: ["-c", "ulimit -Hn"],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  return text === "unlimited" ? Infinity : Number(text);
}

const canHold3000 = Deno.build.os === "linux" && await ownHardLimit() > 4000;

Deno.test({
  name:
    "3,000 slow clients against a server limited to 1,024 file descriptors: it lives, /healthz answers and events are accepted",
  ignore: !canHold3000,
  async fn() {
    const server = await startMain({}, { soft: 1024, hard: 1024 });
    const api = (path: string, init: RequestInit = {}) =>
      fetch(server.url + path, {
        ...init,
        headers: { ...init.headers, ...auth },
      });
    await deployGreetOver(api);
    const client = fresh();
    const slow = slowClients(server.url, 3000, 1000);
    try {
      // The attack is under way: thousands of connections were made.
      const deadline = Date.now() + 20_000;
      while (slow.stats().connects < 3000 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(slow.stats().connects >= 3000, JSON.stringify(slow.stats()));
      for (let i = 0; i < 5; i++) {
        const health = await fetch(server.url + "/healthz", { client });
        assert.equal(health.status, 200);
        assert.equal((await health.json()).status, "ok");
        const sent = await fetch(server.url + "/events/demo/greet", {
          client,
          method: "POST",
          headers: auth,
          body: JSON.stringify({ data: [{ name: `Ada ${i}` }] }),
        });
        assert.equal(sent.status, 200, await sent.clone().text());
        assert.equal((await sent.json()).accepted, 1);
      }
      // The server made room by closing slow ones, and said so.
      assert.ok(slow.stats().cuts > 0);
      assert.ok(
        server.seen.some((l) =>
          String(l.msg).startsWith("connection limit reached")
        ),
      );
    } finally {
      await slow.stop();
      client.close();
    }
    assert.equal((await stopMain(server)).code, 0);
  },
});

Deno.test({
  name:
    "more connections than file descriptors (JOBICO_MAX_CONNECTIONS above the limit): accepting fails, the server closes a waiting connection and keeps serving",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const server = await startMain(
      { JOBICO_MAX_CONNECTIONS: "5000" },
      { soft: 256, hard: 256 },
    );
    const conns: Deno.Conn[] = [];
    const client = fresh();
    try {
      for (let i = 0; i < 600; i++) {
        conns.push(await Deno.connect(addr(server.url)));
      }
      for (let i = 0; i < 3; i++) {
        const health = await fetch(server.url + "/healthz", { client });
        assert.equal(health.status, 200);
        await health.body?.cancel();
      }
      assert.ok(
        server.seen.some((l) =>
          l.msg === "out of file descriptors while accepting"
        ),
      );
    } finally {
      for (const c of conns) c.close();
      client.close();
    }
    assert.equal((await stopMain(server)).code, 0);
  },
});

Deno.test("when every connection has a request in progress, one more is answered 503 problem+json with Retry-After; the body that never comes is cut after JOBICO_REQUEST_TIMEOUT_MS", async () => {
  const server = await startMain({
    JOBICO_MAX_CONNECTIONS: "4",
    JOBICO_REQUEST_TIMEOUT_MS: "1500",
  });
  const held: Deno.Conn[] = [];
  try {
    // Four deploys whose bodies never come; "100 Continue" says the
    // server started reading each one's body.
    for (let i = 0; i < 4; i++) {
      const conn = await Deno.connect(addr(server.url));
      held.push(conn);
      await conn.write(enc.encode(
        `POST /api/v1/packages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/yaml\r\ncontent-length: 1000\r\nexpect: 100-continue\r\n\r\n`,
      ));
      assert.match(await readSome(conn), /^HTTP\/1\.1 100 Continue/);
    }
    const client = fresh();
    const res = await fetch(server.url + "/healthz", { client });
    client.close();
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const problem = await res.json();
    assert.equal(problem.status, 503);
    assert.match(problem.detail, /4 connections/);
    // The bodies never came: each request is cut, and room is made again.
    for (const conn of held) assert.equal(await readToClose(conn), "");
    const health = await fetch(server.url + "/healthz");
    assert.equal(health.status, 200);
    await health.body?.cancel();
    // What happened shows in /metrics.
    const metrics = await (await fetch(server.url + "/metrics", {
      headers: auth,
    })).text();
    for (
      const line of [
        "jobico_http_connections_max 4",
        'jobico_http_connections_closed_total{reason="rejected"} 1',
        'jobico_http_connections_closed_total{reason="request_timeout"} 4',
      ]
    ) assert.ok(metrics.includes(line + "\n"), `${line} in ${metrics}`);
  } finally {
    for (const c of held) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }
  assert.equal((await stopMain(server)).code, 0);
});

Deno.test("under the default settings, a connection that sends nothing is closed after 10 s, headers sent a byte a second after 10 s, and an idle keep-alive connection after 5 s", async () => {
  const server = await startMain({});
  try {
    const began = Date.now();
    const idle = await Deno.connect(addr(server.url));
    const slow = await Deno.connect(addr(server.url));
    const writing = (async () => {
      const head =
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
      for (const ch of head) {
        await new Promise((r) => setTimeout(r, 1000));
        await slow.write(enc.encode(ch));
      }
    })().catch(() => {});
    const keepAlive = await Deno.connect(addr(server.url));
    await keepAlive.write(
      enc.encode("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"),
    );
    const [k, i, s] = await Promise.all([
      readToClose(keepAlive).then((t) => ({ t, ms: Date.now() - began })),
      readToClose(idle).then((t) => ({ t, ms: Date.now() - began })),
      readToClose(slow).then((t) => ({ t, ms: Date.now() - began })),
    ]);
    await writing;
    assert.match(k.t, /^HTTP\/1\.1 200/);
    assert.ok(k.ms >= 5000, `keep-alive closed after ${k.ms} ms`);
    assert.equal(i.t, "");
    assert.ok(i.ms >= 10_000, `idle closed after ${i.ms} ms`);
    assert.equal(s.t, "");
    assert.ok(s.ms >= 10_000, `slow closed after ${s.ms} ms`);
  } finally {
    assert.equal((await stopMain(server)).code, 0);
  }
});

/** `args` (RUN_MAIN or RUN_CLI) with `--allow-ffi`, as `deno task dev` and `deno task jobico` have it. */
const withFfi = (args: string[]) => [
  ...args.slice(0, -1),
  "--allow-ffi",
  args[args.length - 1],
];

Deno.test({
  name:
    "with --allow-ffi (deno task dev), the connection limit comes from the file descriptor limit, the soft one raised to the hard one; without, 1024 is assumed",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const listening = (s: SpawnedServer) =>
      s.seen.find((l) => l.msg === "listening")!;
    const fdLimit = { soft: 300, hard: 600 };
    const withIt = await startMain({}, fdLimit, withFfi(RUN_MAIN));
    try {
      const l = listening(withIt);
      assert.deepEqual(l.fdLimit, { soft: 600, hard: 600 });
      assert.equal(
        (l.connections as Record<string, number>).maxConnections,
        600 - 128,
      );
    } finally {
      await stopMain(withIt);
    }
    const without = await startMain({}, fdLimit);
    try {
      const l = listening(without);
      assert.match(String(l.fdLimit), /unknown/);
      assert.equal(
        (l.connections as Record<string, number>).maxConnections,
        1024 - 128,
      );
    } finally {
      await stopMain(without);
    }
  },
});

Deno.test("jobico serve takes the connection settings as flags", async () => {
  const server = await startMain(
    {},
    undefined,
    [
      ...withFfi(RUN_CLI),
      "serve",
      "--max-connections",
      "7",
      "--header-timeout-ms",
      "300",
      "--idle-timeout-ms",
      "400",
      "--request-timeout-ms",
      "500",
    ],
  );
  try {
    const l = server.seen.find((l) => l.msg === "listening")!;
    assert.deepEqual(l.connections, {
      maxConnections: 7,
      headerTimeoutMs: 300,
      idleTimeoutMs: 400,
      requestTimeoutMs: 500,
    });
    const began = Date.now();
    assert.equal(await readToClose(await Deno.connect(addr(server.url))), "");
    assert.ok(Date.now() - began >= 300);
  } finally {
    assert.equal((await stopMain(server)).code, 0);
  }
});

/** A valid WebAssembly module of about `size` bytes: a custom section of zeros. */
function bigModule(size: number): Uint8Array<ArrayBuffer> {
  const name = enc.encode("pad");
  const payload = size;
  const leb = (n: number) => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return out;
  };
  const body = [...leb(name.length), ...name];
  const head = [
    0,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    0,
    ...leb(body.length + payload),
  ];
  const out = new Uint8Array(head.length + body.length + payload);
  out.set(head);
  out.set(body, head.length);
  return out;
}

Deno.test("a 6 MiB file reaches a client that reads it slowly, past JOBICO_IDLE_TIMEOUT_MS", async () => {
  const server = await startMain({ JOBICO_IDLE_TIMEOUT_MS: "300" });
  try {
    const wasm = bigModule(6 * 1024 * 1024);
    const put = await fetch(
      server.url + "/api/v1/tenants/demo/files/big.wasm",
      {
        method: "PUT",
        headers: auth,
        body: wasm,
      },
    );
    assert.equal(put.status, 201, await put.text());
    const conn = await Deno.connect(addr(server.url));
    await conn.write(enc.encode(
      `GET /api/v1/tenants/demo/files/big.wasm HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n\r\n`,
    ));
    // 256 KiB every 50 ms: about 1.2 s for the whole, four idle timeouts.
    const buf = new Uint8Array(256 * 1024);
    let got = new Uint8Array();
    let head = "";
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const n = await conn.read(buf);
      if (n === null) break;
      const all = new Uint8Array(got.length + n);
      all.set(got);
      all.set(buf.subarray(0, n), got.length);
      got = all;
      const end = new TextDecoder().decode(got.subarray(0, 4096)).indexOf(
        "\r\n\r\n",
      );
      if (end >= 0 && !head) {
        head = new TextDecoder().decode(got.subarray(0, end));
      }
      if (head && got.length >= head.length + 4 + wasm.length) break;
    }
    conn.close();
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, new RegExp(`content-length: ${wasm.length}`, "i"));
    assert.equal(got.length - head.length - 4, wasm.length);
  } finally {
    assert.equal((await stopMain(server)).code, 0);
  }
});
