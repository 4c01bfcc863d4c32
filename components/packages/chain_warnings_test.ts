import assert from "node:assert/strict";
import { compileSchema } from "../repo/compile_schema.ts";
import { type ChainWarning, chainWarnings } from "./chain_warnings.ts";
import type {
  ChainedItem,
  EventDef,
  JobPackage,
} from "../model/job_package.ts";

const event = (id: string, schemaref: string): EventDef => ({
  id,
  datatype: 0,
  schema: { id: `${id}-schema`, schemaref },
  supplierqueue: "q",
  runtime: "r",
});

/** A package whose job "ev1" chains to "ev1_ok" and "ev1_err", each with its schema. */
function pkg(item: ChainedItem | undefined, ok: string, err: string) {
  const p: JobPackage = {
    id: "p",
    tenant: "t",
    queues: [{ id: "q" }],
    runtimes: [{ id: "r", moduleref: "m.wasm", type: 0 }],
    jobs: [{
      event: event("ev1", "in.json"),
      result: {
        ok: event("ev1_ok", ok),
        error: event("ev1_err", err),
        ...(item && { item }),
      },
    }],
  };
  return p;
}

const SCHEMAS: Record<string, unknown> = {
  person: {
    type: "object",
    properties: { name: { type: "string" } },
    required: ["name"],
    additionalProperties: false,
  },
  anyObject: { type: "object" },
  anything: {},
  string: { type: "string" },
  // Of the greeting example: the envelope itself.
  envelope: {
    type: "object",
    properties: {
      code: { type: ["integer", "null"] },
      result: {},
      error: { type: "string" },
      source: {
        type: "object",
        required: ["event", "eventId", "executionId"],
      },
    },
    required: ["code", "source"],
  },
  // A success only: code 0.
  successOnly: {
    type: "object",
    properties: { code: { const: 0 } },
    required: ["code"],
  },
  // Might accept anything: not judged.
  conditional: { anyOf: [{ required: ["name"] }, { type: "object" }] },
  // Refuses by the result only: the Jobicolet decides, not judged.
  resultShaped: {
    type: "object",
    properties: { result: { type: "object", required: ["greeting"] } },
  },
};

async function warnings(
  item: ChainedItem | undefined,
  ok: string,
  err: string,
): Promise<ChainWarning[]> {
  return await chainWarnings(
    pkg(item, ok, err),
    (ref) =>
      Promise.resolve(
        SCHEMAS[ref] === undefined ? null : compileSchema(
          ref,
          new TextEncoder().encode(JSON.stringify(SCHEMAS[ref])),
        ),
      ),
  );
}

Deno.test("envelope: a schema that requires what the envelope never has can never accept it, named", async () => {
  const w = await warnings("envelope", "person", "person");
  assert.deepEqual(w.map((x) => [x.event, x.of, x.result, x.schema]), [
    ["ev1_ok", "ev1", "ok", "person"],
    ["ev1_err", "ev1", "error", "person"],
  ]);
  assert.equal(
    w[0].message,
    'Result event "ev1_ok" (result.ok of "ev1"): schema "person" can never ' +
      "accept what the chain sends, the envelope {code, result, source} of a " +
      'success (/name "name" is required): such items are dropped. Use item: ' +
      "result to send the result itself, or a schema of the envelope",
  );
  // A legacy version (no item) sends the envelope too.
  assert.equal((await warnings(undefined, "person", "person")).length, 2);
});

Deno.test("envelope: schemas that accept it, or might, give no warning", async () => {
  for (const s of ["envelope", "anyObject", "anything", "conditional"]) {
    assert.deepEqual(await warnings("envelope", s, s), [], s);
  }
  // Whether the result matches is the Jobicolet's to say.
  assert.deepEqual(await warnings("envelope", "resultShaped", "anything"), []);
});

Deno.test("envelope: an error event that takes only successes never receives anything", async () => {
  const w = await warnings("envelope", "successOnly", "successOnly");
  assert.deepEqual(w.map((x) => x.event), ["ev1_err"]);
  assert.match(w[0].message, /can never accept what the chain sends/);
  assert.match(
    w[0].message,
    /of a non-zero code \(\/code must be equal to constant\)/,
  );
});

Deno.test("result: only a failure's item is known; an error event that refuses strings misses failures", async () => {
  // The ok item is the Jobicolet's result: nothing to say of it.
  assert.deepEqual(await warnings("result", "person", "string"), []);
  assert.deepEqual(await warnings("result", "person", "anything"), []);
  const w = await warnings("result", "person", "anyObject");
  assert.deepEqual(w.map((x) => [x.event, x.schema]), [[
    "ev1_err",
    "anyObject",
  ]]);
  assert.equal(
    w[0].message,
    'Result event "ev1_err" (result.error of "ev1"): schema "anyObject" never ' +
      "accepts the reason a failed execution (a trap, a limit) sends, a " +
      "string (/ must be object): such items are dropped",
  );
});

Deno.test("a schema that cannot be read (a file a dry run only assumes) is not judged", async () => {
  assert.deepEqual(
    await warnings("envelope", "missing.json", "missing.json"),
    [],
  );
});
