/**
 * Fuzzing of what tenants send: job packages (`parsePackage`, and
 * `POST /api/v1/packages` with bytes that need not be UTF-8), event bodies
 * (`POST /events/demo/greet` on a real server) and schema uploads. Every
 * input must get an answer in bounded time: an issue list or a package; 200
 * or a 4xx problem+json, never a 500; and the listener queues exactly what
 * it says it accepted.
 *
 * Seeded: the seed is printed, and `FUZZ_SEED=<seed>` replays a run; a
 * failure names the target and input index. Each target stops after its
 * count of inputs or about `FUZZ_SECONDS` (default 5) seconds.
 */
import assert from "node:assert/strict";
import { PatternWorkError } from "../components/repo/linear_regexp.ts";
import { parsePackage } from "../components/model/parse_package.ts";
import { queueStorageName } from "../components/model/queue_ref.ts";
import { compileSchema } from "../components/repo/compile_schema.ts";
import {
  eventBody,
  JOB_YAML,
  packageInput,
  probeValue,
  schemaInput,
} from "./_fuzz_cases.ts";
import {
  aliasBomb,
  inputRng,
  lenient,
  mutate,
  randomBytes,
  type Rng,
  utf8,
  YAML_TOKENS,
} from "./_fuzz_inputs.ts";
import { deployGreet, type Harness, startHarness } from "./_harness.ts";
import type { Component } from "../components/platform.ts";
import { jsonLogger } from "@jobico/goico";

const SEED = Number(
  Deno.env.get("FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 32),
);
const SECONDS = Number(Deno.env.get("FUZZ_SECONDS") ?? 5);
console.log(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);

/** Runs `one(rng, index)` for up to `count` inputs or `SECONDS`, whichever comes first; `concurrency` at a time. */
async function fuzz(
  target: number,
  count: number,
  one: (r: Rng, index: number, where: string) => Promise<void> | void,
  concurrency = 1,
): Promise<number> {
  const deadline = performance.now() + SECONDS * 1000;
  let i = 0;
  while (i < count && performance.now() < deadline) {
    const batch = [];
    for (let k = 0; k < concurrency && i < count; k++, i++) {
      const where = `seed ${SEED}, target ${target}, input ${i}`;
      batch.push(one(inputRng(SEED, target, i), i, where));
    }
    await Promise.all(batch);
  }
  return i;
}

/** Slowest inputs, for the report. */
class Timings {
  readonly #all: number[] = [];
  #slowest = { ms: 0, where: "" };
  add(ms: number, where: string): void {
    this.#all.push(ms);
    if (ms > this.#slowest.ms) this.#slowest = { ms, where };
  }
  summary(): string {
    const sorted = [...this.#all].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    return `${sorted.length} inputs, median ${median.toFixed(2)} ms, slowest ${
      this.#slowest.ms.toFixed(1)
    } ms (${this.#slowest.where})`;
  }
}

Deno.test("fuzz: parsePackage answers every mutated package with issues or a package", async () => {
  const timings = new Timings();
  const kinds = new Set(["syntax", "structure", "reference"]);
  const n = await fuzz(1, 5000, (r, _i, where) => {
    const source = packageInput(r);
    const started = performance.now();
    const { pkg, issues } = parsePackage(source);
    timings.add(performance.now() - started, where);
    assert.ok(Array.isArray(issues), where);
    assert.ok(pkg ? issues.length === 0 : issues.length > 0, where);
    assert.ok(issues.length <= 100, where);
    for (const issue of issues) {
      assert.ok(kinds.has(issue.kind), where);
      assert.ok(issue.message.length > 0, where);
      assert.ok(issue.line >= 1 && issue.col >= 1, where);
    }
  });
  console.log(`parsePackage: ${timings.summary()}`);
  assert.ok(n >= 100, `only ${n} inputs ran`);
});

/** The platform with its error log kept, to explain a 500. */
async function harness(components: Component[]) {
  const errors: string[] = [];
  const logger = jsonLogger({ level: "error", write: (l) => errors.push(l) });
  const h = await startHarness({ components, logger });
  return { h, errors };
}

/** What a failure message shows of an input. */
const excerpt = (bytes: Uint8Array) =>
  `${bytes.length} bytes: ${JSON.stringify(lenient(bytes.subarray(0, 200)))}`;

/**
 * Checks an answer: one of `allowed`, and problem+json unless 2xx; returns
 * the body. `why` explains a wrong status (the input, the server's log).
 */
async function answer(
  res: Response,
  allowed: readonly number[],
  where: string,
  why: () => string = () => "",
): Promise<unknown> {
  const text = await res.text();
  assert.ok(
    allowed.includes(res.status),
    `${where}: answered ${res.status} ${text.slice(0, 300)}\n${why()}`,
  );
  const body = JSON.parse(text);
  if (res.status >= 400) {
    assert.equal(
      res.headers.get("content-type"),
      "application/problem+json",
      where,
    );
    assert.equal(body.status, res.status, where);
    assert.equal(typeof body.detail, "string", where);
  }
  return body;
}

/** Ignores a failed fetch of a body the server refused before reading it all (413). */
async function post(
  h: Harness,
  path: string,
  init: RequestInit,
  oversized: boolean,
): Promise<Response | undefined> {
  try {
    return await h.api(path, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    if (oversized && !(err instanceof DOMException)) return undefined;
    throw err;
  }
}

Deno.test("fuzz: package deploys over HTTP answer 2xx or 4xx, never 500", async () => {
  const { h, errors } = await harness(["ctl", "repo"]);
  try {
    await deployGreet(h);
    const timings = new Timings();
    const allowed = [200, 201, 400, 403, 409, 413, 422];
    await fuzz(2, 400, async (r, _i, where) => {
      const bytes = r.chance(0.8)
        ? mutate(r, JOB_YAML, YAML_TOKENS)
        : r.chance(0.5)
        ? utf8(aliasBomb(10, 10))
        : randomBytes(r, 80_000);
      const dryRun = r.chance(0.5) ? "?dryRun=true" : "";
      const started = performance.now();
      const res = await post(h, `/api/v1/packages${dryRun}`, {
        method: "POST",
        headers: { "content-type": "application/yaml" },
        body: bytes as Uint8Array<ArrayBuffer>,
      }, bytes.length > 60 * 1024);
      timings.add(performance.now() - started, where);
      if (res) {
        await answer(
          res,
          allowed,
          where,
          () => `${excerpt(bytes)}\n${errors.at(-1)}`,
        );
      }
    }, 4);
    console.log(`POST /api/v1/packages: ${timings.summary()}`);
  } finally {
    await h.close();
  }
});

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
];

Deno.test("fuzz: the listener answers 200/400/413/415/429, never 500, and queues exactly what it accepted", async () => {
  const { h, errors } = await harness(["ctl", "repo", "listener"]);
  try {
    await deployGreet(h);
    const timings = new Timings();
    const statuses = new Map<number, number>();
    let accepted = 0;
    const n = await fuzz(3, 3000, async (r, _i, where) => {
      const body = eventBody(r);
      const headers = new Headers();
      if (r.chance(0.8)) headers.set("content-type", r.pick(CONTENT_TYPES));
      if (r.chance(0.1)) {
        headers.set(
          "idempotency-key",
          r.pick(["", " ", "x".repeat(300), `k${r.int(5)}`]),
        );
      }
      const started = performance.now();
      const res = await post(h, "/events/demo/greet", {
        method: "POST",
        headers,
        body: body as Uint8Array<ArrayBuffer>,
      }, body.length > 1024 * 1024);
      timings.add(performance.now() - started, where);
      if (!res) return;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const out = await answer(
        res,
        [200, 400, 413, 415, 429],
        where,
        () => `${excerpt(body)}\n${errors.at(-1)}`,
      ) as {
        accepted: number;
        ids: string[];
      };
      if (res.status === 200) {
        assert.ok(out.accepted >= 1, where);
        assert.equal(out.ids.length, out.accepted, where);
        if (res.headers.get("idempotent-replayed") !== "true") {
          accepted += out.accepted;
        }
      }
    }, 4);
    const queued = await h.platform.queue.backlog(
      queueStorageName({ tenant: "demo", queue: "greetings" }),
    );
    console.log(
      `POST /events/demo/greet: ${timings.summary()}; answers ${
        JSON.stringify(Object.fromEntries(statuses))
      }; ${accepted} items accepted, ${queued} queued`,
    );
    assert.equal(queued, accepted);
    assert.ok(n >= 100, `only ${n} inputs ran`);
  } finally {
    await h.close();
  }
});

Deno.test("fuzz: schema uploads answer 201 or 4xx, never 500, and what is accepted validates without throwing", async () => {
  const { h, errors } = await harness(["repo"]);
  try {
    const timings = new Timings();
    const statuses = new Map<number, number>();
    await fuzz(4, 300, async (r, _i, where) => {
      const bytes = schemaInput(r);
      const started = performance.now();
      const res = await post(h, "/api/v1/tenants/demo/files/x.schema.json", {
        method: "PUT",
        body: bytes as Uint8Array<ArrayBuffer>,
      }, bytes.length > 256 * 1024);
      timings.add(performance.now() - started, where);
      if (!res) return;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      await answer(
        res,
        [201, 400, 413],
        where,
        () => `${excerpt(bytes)}\n${errors.at(-1)}`,
      );
      if (res.status === 201) {
        const validate = compileSchema("x.schema.json", bytes);
        for (let k = 0; k < 3; k++) {
          // A boolean, or PatternWorkError: a string too long for a
          // pattern is refused before matching (the listener's 400).
          try {
            assert.equal(typeof validate(probeValue(r)), "boolean", where);
          } catch (err) {
            if (!(err instanceof PatternWorkError)) throw err;
          }
        }
      }
    }, 2);
    console.log(
      `PUT schema: ${timings.summary()}; answers ${
        JSON.stringify(Object.fromEntries(statuses))
      }`,
    );
  } finally {
    await h.close();
  }
});
