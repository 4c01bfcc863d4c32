import assert from "node:assert/strict";
import {
  ensurePrivateDir,
  ensurePrivateFile,
  keepPrivateFile,
} from "./private_dir.ts";
import { openKv } from "./open_kv.ts";

const mode = async (p: string) => (await Deno.stat(p)).mode! & 0o777;

Deno.test("openKv: the data directory is 0700 and the KV's files (with its -wal and -shm) 0600", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const kv = await openKv(`${tmp}/data`);
    try {
      await kv.set(["k"], "v");
      const names = [];
      for await (const e of Deno.readDir(`${tmp}/data`)) names.push(e.name);
      assert.ok(names.includes("kv.sqlite3-wal"), names.join(","));
      assert.equal(await mode(`${tmp}/data`), 0o700);
      for (const n of names) {
        assert.equal(await mode(`${tmp}/data/${n}`), 0o600, n);
      }
    } finally {
      kv.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("ensurePrivateDir: an existing 0755 directory and its 0644 files are tightened, with a warning each", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    await Deno.chmod(tmp, 0o755);
    await Deno.writeTextFile(`${tmp}/kv.sqlite3`, "");
    await Deno.chmod(`${tmp}/kv.sqlite3`, 0o644);
    const warned: unknown[] = [];
    await ensurePrivateDir(tmp, {
      logger: {
        debug() {},
        info() {},
        warn: (_m: string, f?: Record<string, unknown>) => warned.push(f),
        error() {},
      },
    });
    assert.equal(await mode(tmp), 0o700);
    assert.equal(await mode(`${tmp}/kv.sqlite3`), 0o600);
    assert.equal(warned.length, 2);
    // Already private: nothing to say.
    await ensurePrivateFile(`${tmp}/kv.sqlite3`);
    await ensurePrivateFile(`${tmp}/new`);
    assert.equal(await mode(`${tmp}/new`), 0o600);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("ensurePrivateDir: files removed while it goes through the directory (another process's SQLite journal) are skipped, the rest tightened", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const names = Array.from({ length: 400 }, (_, i) => `f${i}`);
    for (const n of names) {
      await Deno.writeTextFile(`${tmp}/${n}`, "", { mode: 0o644 });
      await Deno.chmod(`${tmp}/${n}`, 0o644);
    }
    // Every other file goes while the directory is listed and tightened.
    const removing = (async () => {
      for (const n of names.filter((_, i) => i % 2 === 1).reverse()) {
        await Deno.remove(`${tmp}/${n}`);
      }
    })();
    await Promise.all([ensurePrivateDir(tmp), removing]);
    await ensurePrivateDir(tmp);
    for (const n of names.filter((_, i) => i % 2 === 0)) {
      assert.equal(await mode(`${tmp}/${n}`), 0o600, n);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("keepPrivateFile: of 20 callers at once one makes the value (0600), all get it; a file holding no value gives undefined", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/kept`;
    let made = 0;
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          keepPrivateFile(
            file,
            () => `value-${++made}`,
            (t) => t.trim() || undefined,
          ),
      ),
    );
    assert.equal(made, 1);
    assert.equal(results.filter((r) => r?.created).length, 1);
    for (const r of results) assert.equal(r?.value, "value-1");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.equal(await Deno.readTextFile(file), "value-1\n");

    await Deno.writeTextFile(`${dir}/empty`, "");
    assert.equal(
      await keepPrivateFile(
        `${dir}/empty`,
        () => "x",
        (t) => t.trim() || undefined,
      ),
      undefined,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
