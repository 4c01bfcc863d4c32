/**
 * Cancel and re-run from the dashboard, on a real platform: a delayed
 * event shows under its queue, `x` on it cancels it; `R` on an execution
 * runs it again with its input.
 */
import assert from "node:assert/strict";
import type { Key } from "ink";
import { deployGreet, startHarness } from "../../tests/_harness.ts";
import { JobicoClient } from "../client.ts";
import { DashboardModel } from "./dashboard_model.ts";
import { derive, handleKey, initialView, layout } from "./dashboard_view.ts";
import { delayedLines, executionLines } from "./detail_lines.ts";

const KEY = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
} as Key;

const text = (lines: ReturnType<typeof delayedLines>) =>
  lines.map((l) => l.map((s) => s.text).join("")).join("\n");

async function until(what: string, pred: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("dashboard: x cancels a delayed event shown under its queue; R re-runs an execution", async () => {
  const h = await startHarness({ workers: 1 });
  const client = new JobicoClient({ url: h.url, token: h.adminToken });
  const model = new DashboardModel({ client, refreshMs: 60_000 });
  try {
    await deployGreet(h);
    const later = await client.sendEvents(
      "demo",
      "greet",
      [{ name: "Later" }],
      {
        delay: "1h",
      },
    );
    await h.send("demo", "greet", [{ name: "Ada" }]);
    await h.waitFor("demo", (e) => e.some((x) => x.event === "greet"));
    await model.start();
    const lay = layout(100, 40);
    const view = initialView();
    const queueKey = "t/demo/queues/greetings";
    view.open.set(queueKey, true);
    let d = derive(model.snapshot(), view, lay);
    const row = d.tree.find((r) => r.node.kind === "delayed");
    assert.ok(row, "a delayed event in the tree");
    assert.equal(row.parent, queueKey);
    assert.equal(row.label, `greet ${later.ids[0]}`);
    view.treeKey = row.key;
    d = derive(model.snapshot(), view, lay);
    assert.match(text(d.detail.lines), /x cancels it/);
    const effect = handleKey(view, d, lay, "x", KEY);
    assert.ok(typeof effect === "object" && "cancel" in effect);
    await model.cancel(effect.cancel.tenant, effect.cancel.item);
    assert.deepEqual(model.snapshot().notice, {
      text: `Cancelled greet ${later.ids[0]}`,
      ok: true,
    });
    // Gone from the tree; gone from the platform.
    d = derive(model.snapshot(), view, lay);
    assert.equal(d.tree.some((r) => r.node.kind === "delayed"), false);
    assert.deepEqual(
      (await client.listDelayed("demo", "greetings")).delayed,
      [],
    );
    // A second cancel of the same event says why it failed.
    await model.cancel("demo", effect.cancel.item);
    assert.equal(model.snapshot().notice?.ok, false);
    assert.match(
      model.snapshot().notice!.text,
      /has no waiting or delayed item/,
    );

    // R on the execution under the cursor.
    await until(
      "executions",
      () => model.snapshot().executions.some((e) => e.event === "greet"),
    );
    view.focus = "executions";
    d = derive(model.snapshot(), view, lay);
    const chosen = d.executions[d.execCursor];
    assert.match(
      executionLines(chosen).map((l) => l.map((s) => s.text).join("")).join(
        "\n",
      ),
      /R re-runs it with this input/,
    );
    const rerun = handleKey(view, d, lay, "R", KEY);
    assert.ok(typeof rerun === "object" && "rerun" in rerun);
    assert.equal(rerun.rerun.id, chosen.id);
    await model.rerun(rerun.rerun);
    assert.match(
      model.snapshot().notice!.text,
      new RegExp(`^Re-running ${chosen.id} as event `),
    );
    await h.waitFor("demo", (e) => e.some((x) => x.rerunOf === chosen.id));
    // x elsewhere does nothing.
    view.focus = "tree";
    view.treeKey = queueKey;
    d = derive(model.snapshot(), view, lay);
    assert.equal(handleKey(view, d, lay, "x", KEY), undefined);
  } finally {
    await model.close();
    await h.close();
  }
});
