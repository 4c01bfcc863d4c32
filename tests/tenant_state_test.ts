/**
 * No state crosses tenants. A warm instance keeps its memory from one
 * execution to the next (as the original platform's one instance per
 * module did), so instances are keyed by tenant as well as by module,
 * limits and function: a tenant that uploads the same bytes as another
 * gets instances of its own and never sees the other's data. Within one
 * tenant, state MAY survive between executions of a module: it is kept
 * while the instance stays warm, and lost when the instance traps, times
 * out or is evicted (the Workers keep a bounded number of warm instances
 * and a bounded amount of their memory). remember.wat returns the input
 * of the call before it on the same instance.
 */
import assert from "node:assert/strict";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { meterFuel, WasmPool } from "@jobico/goico";
import { type Harness, startHarness } from "./_harness.ts";
import { deployOneModule } from "./_one_module.ts";

async function runOne(h: Harness, tenant: string, v: string): Promise<string> {
  const [id] = await h.send(tenant, "run", [{ v }]);
  const execs = await h.waitFor(
    tenant,
    (e) => e.some((x) => x.eventId === id),
  );
  const exec = execs.find((x) => x.eventId === id)!;
  assert.equal(exec.status, "ok", exec.error ?? "");
  return exec.result!;
}

Deno.test("two tenants with the same module bytes never see each other's inputs; one tenant's instance keeps its state", async () => {
  // One Worker: both tenants' calls run in the same isolate.
  const h = await startHarness({ workers: 1 });
  try {
    const bytes = await compileWat("remember");
    for (const tenant of ["alice", "mallory"]) {
      await deployOneModule(h, { tenant, file: "remember.wasm", bytes });
    }
    assert.equal(await runOne(h, "alice", "alice-secret-1"), "");
    // Same bytes, same limits, same function, other tenant: a fresh instance.
    assert.equal(await runOne(h, "mallory", "probe"), "");
    // Alice's own instance kept her previous input.
    assert.equal(
      await runOne(h, "alice", "alice-secret-2"),
      '{"v":"alice-secret-1"}',
    );
    assert.equal(await runOne(h, "mallory", "probe-2"), '{"v":"probe"}');
  } finally {
    await h.close();
  }
});

Deno.test("a Worker keeps warm instances within its memory budget: one larger than the budget starts fresh each time", async () => {
  const module = await WebAssembly.compile(
    meterFuel(await compileWat("remember"), {
      memoryLimitPages: 16,
      interrupt: true,
    }) as Uint8Array<ArrayBuffer>,
  );
  const call = (pool: WasmPool, input: string) =>
    pool.run({
      key: "t\u0000remember",
      module,
      guest: { fuel: 1_000_000n },
      input: new TextEncoder().encode(input),
      timeoutMs: 5_000,
    });
  const result = (r: Awaited<ReturnType<typeof call>>) =>
    r.outcome.ok ? r.outcome.result : r.outcome.reason;
  // remember.wat has one 64 KiB page: a budget of 32 KiB keeps nothing.
  const tight = new WasmPool({ size: 1, warmBytes: 32 * 1024 });
  const roomy = new WasmPool({ size: 1 });
  try {
    await call(tight, "one");
    assert.equal(result(await call(tight, "two")), "");
    await call(roomy, "one");
    assert.equal(result(await call(roomy, "two")), "one");
  } finally {
    tight.close();
    roomy.close();
  }
});
