/**
 * Every command that deletes for good behaves the same: on a terminal it
 * asks and deletes only on `y`; without a terminal it refuses (exit 2) unless
 * given --yes; --yes never asks. On a real platform.
 */
import assert from "node:assert/strict";
import { deployGreet, startHarness } from "../../tests/_harness.ts";
import { captureIo, type CaptureOptions } from "../_capture_io.ts";
import { run } from "../main.ts";

Deno.test("platform: tenant, package and file deletes and queue purges ask first, or need --yes", async () => {
  const h = await startHarness({ workers: 1 });
  try {
    await deployGreet(h);
    const jobico = async (args: string[], options: CaptureOptions = {}) => {
      const io = captureIo(options);
      const code = await run(
        ["--url", h.url, "--token", h.adminToken, ...args],
        io,
      );
      return { code, out: io.out(), err: io.err(), asked: io.asked };
    };
    const exists = async (path: string) => {
      const res = await h.api(path);
      await res.body?.cancel();
      return res.status === 200;
    };
    await h.api("/api/v1/tenants", {
      method: "POST",
      body: JSON.stringify({ id: "acme" }),
    }).then((r) => r.body?.cancel());

    // queues purge: the same question (the queue has no dead letters yet).
    const purge = ["queues", "purge", "demo", "greetings"];
    let p = await jobico(purge, { answers: ["no"] });
    assert.deepEqual(p.asked, [
      "Delete every dead letter of queue greetings? [y/N] ",
    ]);
    assert.equal(p.code, 1);
    p = await jobico(purge, { answers: ["yes"] });
    assert.equal(p.code, 0, p.err);
    assert.equal(p.out, "Purged 0 dead letters of queue greetings\n");

    const cases = [
      {
        args: ["tenant", "delete", "acme"],
        what: "tenant acme and everything of it",
        check: 'Check it with "jobico tenant show acme"',
        path: "/api/v1/tenants/acme",
        done: "Deleted tenant acme\n",
      },
      {
        args: ["packages", "delete", "demo", "greet"],
        what: "package demo/greet and all its versions",
        check: 'Check it with "jobico packages show demo greet"',
        path: "/api/v1/tenants/demo/packages/greet",
        done: "Deleted demo/greet\n",
      },
      {
        args: ["files", "delete", "demo", "audit.wasm"],
        what: "file demo/audit.wasm",
        check: 'Check it with "jobico files show demo audit.wasm"',
        path: "/api/v1/tenants/demo/files/audit.wasm",
        done: "Deleted demo/audit.wasm\n",
      },
    ];
    for (const c of cases) {
      // No terminal, no --yes: refused, nothing deleted.
      let r = await jobico(c.args);
      assert.equal(r.code, 2, c.args.join(" "));
      assert.equal(r.out, "");
      assert.equal(
        r.err,
        `error: Refusing to delete ${c.what} without --yes\n` +
          `hint: ${c.check}, then run the command again with --yes\n`,
      );
      assert.ok(await exists(c.path), c.path);
      // A terminal: asked; anything but y keeps it, as does the end of input.
      for (const answer of ["n", "", "maybe", null]) {
        r = await jobico(c.args, { answers: [answer] });
        assert.deepEqual(r.asked, [`Delete ${c.what}? [y/N] `]);
        assert.equal(r.code, 1, `${c.args.join(" ")} answered ${answer}`);
        assert.match(r.err, new RegExp(`error: Nothing deleted: `));
        assert.ok(await exists(c.path), c.path);
      }
      r = await jobico(c.args, { answers: ["y"] });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, c.done);
      assert.ok(!(await exists(c.path)), c.path);
    }

    // --yes never asks (the tenant is made again to delete it again).
    await h.api("/api/v1/tenants/demo/files/x.json", {
      method: "PUT",
      body: "{}",
    }).then((r) => r.body?.cancel());
    const r = await jobico(["files", "delete", "demo", "x.json", "--yes"], {
      answers: [],
    });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.asked, []);
  } finally {
    await h.close();
  }
});
