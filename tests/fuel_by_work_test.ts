/**
 * Fuel is charged by work, not by instruction: `memory.fill`,
 * `memory.copy` and the bulk table instructions cost in proportion to
 * their length, so a loop of 100 MiB fills runs out of fuel like any loop,
 * under the default limits. Before, each turn cost about five units: the
 * loop ran for a minute past its timeout, holding a core.
 */
import assert from "node:assert/strict";
import { compileWat } from "./jobicolets/compile_wat.ts";
import { startHarness } from "./_harness.ts";
import { deployOneModule } from "./_one_module.ts";

for (const main of ["fill", "copy", "table_fill"]) {
  Deno.test(`bulk_bomb.wat ${main} with the default limits fails with fuel exhausted, not a timeout`, async () => {
    const h = await startHarness({ workers: 1 });
    try {
      await deployOneModule(h, {
        tenant: "work",
        file: "bulk_bomb.wasm",
        bytes: await compileWat("bulk_bomb"),
        main,
      });
      const [id] = await h.send("work", "run", [{}]);
      const [exec] = await h.waitFor(
        "work",
        (e) => e.some((x) => x.eventId === id),
      );
      assert.equal(exec.status, "failed");
      assert.equal(
        exec.error,
        "fuel exhausted: the module ran more than 1000000000 instructions",
      );
    } finally {
      await h.close();
    }
  });
}
