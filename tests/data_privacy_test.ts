/**
 * Files on disk are private: the platform runs in its own process on a
 * data directory, and everything in it must be readable only by its owner
 * (the directory 0700, every file 0600, SQLite's -wal and -shm included),
 * an older directory left 0755 with 0644 files is tightened at start, and
 * webhook secrets are sealed at rest with a key kept outside the store
 * (never in the store's files in clear; secrets stored in clear before are
 * sealed once read, and still verify).
 */
import assert from "node:assert/strict";
import { TenantStore } from "../components/tenants/tenant_store.ts";
import { keys } from "../components/model/keys.ts";
import { authFetch } from "./_auth_fetch.ts";
import { RUN_MAIN } from "./_run_main.ts";
import { spawnServer } from "./_spawn_server.ts";

const mode = async (p: string) => (await Deno.stat(p)).mode! & 0o777;

async function filesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

function contains(hay: Uint8Array, needle: string): boolean {
  const n = new TextEncoder().encode(needle);
  outer: for (let i = 0; i + n.length <= hay.length; i++) {
    for (let j = 0; j < n.length; j++) if (hay[i + j] !== n[j]) continue outer;
    return true;
  }
  return false;
}

Deno.test("data directory: 0700 with 0600 files after a start and writes, an old 0755 one tightened, webhook secrets sealed", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "jobico-privacy-" });
  const data = `${tmp}/data`;
  try {
    // A data directory as an older version left it: 0755, files 0644, a
    // tenant whose webhook secret is stored in clear.
    await Deno.mkdir(data, { mode: 0o755 });
    await Deno.chmod(data, 0o755);
    const old = await Deno.openKv(`${data}/kv.sqlite3`);
    const legacy = new TenantStore(old);
    await legacy.create("legacy");
    const legacySecret = (await legacy.webhookSecrets("legacy")).secret;
    old.close();
    assert.equal(await mode(`${data}/kv.sqlite3`), 0o644);

    const server = await spawnServer(RUN_MAIN, {
      JOBICO_DATA: data,
      JOBICO_LOG_LEVEL: "info",
    });
    let freshSecrets: string[] = [];
    try {
      const token = (await Deno.readTextFile(`${data}/admin-token`)).trim();
      const api = authFetch(server.url, token);
      assert.equal(
        (await api("/api/v1/tenants", {
          method: "POST",
          body: JSON.stringify({ id: "fresh" }),
        })).status,
        201,
      );
      const rotated = await (await api(
        "/api/v1/tenants/fresh/webhook-secret",
        { method: "POST" },
      )).json();
      freshSecrets = [rotated.secret, rotated.previous.secret];
      // The clear secret of before still verifies: it is read, then sealed.
      const got = await (await api("/api/v1/tenants/legacy/webhook-secret"))
        .json();
      assert.equal(got.secret, legacySecret);
      assert.ok(
        server.seen.some((l) =>
          l.msg === "tightened the mode of a data file: others could read it"
        ),
      );

      assert.equal(await mode(data), 0o700);
      const names = await filesOf(data);
      for (const n of ["admin-token", "secret-key", "kv.sqlite3"]) {
        assert.ok(names.includes(n), `${n} in ${names}`);
      }
      assert.ok(names.includes("kv.sqlite3-wal"), names.join(", "));
      for (const n of names) {
        assert.equal(
          await mode(`${data}/${n}`),
          0o600,
          `${n} is ${(await mode(`${data}/${n}`)).toString(8)}`,
        );
      }
    } finally {
      await server.stop();
    }

    // At rest: no secret made since sealing is in any file of the store.
    for (const n of await filesOf(data)) {
      if (!n.startsWith("kv.sqlite3")) continue;
      const bytes = await Deno.readFile(`${data}/${n}`);
      for (const s of freshSecrets) {
        assert.ok(!contains(bytes, s), `a webhook secret in clear in ${n}`);
      }
    }
    // The one stored in clear before is sealed now.
    const kv = await Deno.openKv(`${data}/kv.sqlite3`);
    try {
      const creds = (await kv.get<{ webhookSecrets: { secret: string }[] }>(
        keys.tenantCredentials("legacy"),
      )).value!;
      for (const w of creds.webhookSecrets) {
        assert.match(w.secret, /^sealed:v1:/);
      }
    } finally {
      kv.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
