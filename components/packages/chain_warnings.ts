/**
 * What a deploy (and a dry run) warns about: a result event whose schema can
 * never accept what its job's executions send it, so that every chained
 * item would be dropped at run time (with only a host note in the source
 * execution's logs).
 *
 * "Never" is decided without knowing the Jobicolet: an item is tried for
 * each kind of outcome with everything the Jobicolet decides left neutral
 * (the result null, the failure's reason a sample), and only errors that
 * hold whatever the Jobicolet returns count: a required or forbidden key of
 * the envelope, a type of a part whose type is fixed, the code of a
 * success. A schema with conditional parts (`anyOf`, `oneOf`, `not`, `if`,
 * dependencies, `unevaluated*`) is not judged: it might accept.
 *
 * @module
 */
import type { ChainWarning } from "../../api/mod.ts";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { describeSchemaError } from "../repo/describe_schema_error.ts";
import { isEndlessSchema } from "../repo/linear_regexp.ts";
import type {
  ChainedItem,
  EventDef,
  JobPackage,
} from "../model/job_package.ts";

/**
 * One result event (`event`) that will not receive some or all of the
 * items of the job event `of`'s `result` (ok or error), and why (the API's
 * `ChainWarning`).
 */
export type { ChainWarning };

/** Keywords under which a schema might accept what it seems to refuse. */
const CONDITIONAL = new Set([
  "anyOf",
  "oneOf",
  "not",
  "if",
  "then",
  "else",
  "dependentSchemas",
  "dependentRequired",
  "dependencies",
  "unevaluatedProperties",
  "unevaluatedItems",
  "$dynamicRef",
  "$recursiveRef",
]);

const ID = "0000000000000000000";
const SOURCE = { event: "", eventId: ID, executionId: ID };

/** One kind of outcome: the item it sends, and which errors hold for all such items. */
interface Outcome {
  /** How the warning names it. */
  name: string;
  item: unknown;
  decisive: (e: ErrorObject) => boolean;
}

/** The outcomes a job's `result.ok` or `result.error` receives, in a format. */
function outcomes(route: "ok" | "error", item: ChainedItem): Outcome[] {
  if (item === "result") {
    // Only a failure's item is known: its reason, a string.
    return route === "ok" ? [] : [{
      name: "the reason a failed execution (a trap, a limit) sends, a string",
      item: "trap: unreachable",
      decisive: (e) =>
        e.instancePath === "" &&
        ["type", "false schema"].includes(e.keyword),
    }];
  }
  const fixedShape = (e: ErrorObject) =>
    ["required", "additionalProperties", "false schema"].includes(e.keyword)
      ? e.instancePath === "" || e.instancePath === "/source"
      : e.keyword === "type" &&
        (e.instancePath === "" || e.instancePath.startsWith("/source"));
  if (route === "ok") {
    return [{
      name: "the envelope {code, result, source} of a success",
      item: { code: 0, result: null, source: SOURCE },
      // The code of a success is always 0: any error about it holds.
      decisive: (e) => fixedShape(e) || e.instancePath === "/code",
    }];
  }
  return [
    {
      name: "the envelope {code, result, source} of a non-zero code",
      item: { code: 1, result: null, source: SOURCE },
      // The code is some non-zero integer.
      decisive: (e) =>
        fixedShape(e) ||
        (e.instancePath === "/code" &&
          (e.keyword === "type" || noNonZeroCode(e))),
    },
    {
      name: "the envelope {code, result, error, source} of a failed execution",
      item: { code: null, result: null, error: "trap", source: SOURCE },
      // The code is always null; the error some string.
      decisive: (e) =>
        fixedShape(e) || e.instancePath === "/code" ||
        (e.instancePath === "/error" && e.keyword === "type"),
    },
  ];
}

/** A `const` or `enum` error whose values hold no non-zero integer. */
function noNonZeroCode(e: ErrorObject): boolean {
  const params = e.params as {
    allowedValue?: unknown;
    allowedValues?: unknown[];
  };
  const values = e.keyword === "const"
    ? [params.allowedValue]
    : e.keyword === "enum"
    ? params.allowedValues ?? []
    : undefined;
  return values !== undefined &&
    !values.some((v) => Number.isInteger(v) && v !== 0);
}

/** Whether a schema document has parts that make acceptance conditional. */
function conditional(doc: unknown, depth = 0): boolean {
  if (depth > 200 || doc === null || typeof doc !== "object") return false;
  if (Array.isArray(doc)) return doc.some((d) => conditional(d, depth + 1));
  for (const [k, v] of Object.entries(doc)) {
    if (CONDITIONAL.has(k)) return true;
    if (conditional(v, depth + 1)) return true;
  }
  return false;
}

/**
 * The warnings for `pkg`'s result events. `validator` gives a result
 * event's compiled schema, or null when it cannot be read (a file a dry run
 * only assumes): those are not judged.
 */
export async function chainWarnings(
  pkg: JobPackage,
  validator: (schemaref: string) => Promise<ValidateFunction | null>,
): Promise<ChainWarning[]> {
  const out: ChainWarning[] = [];
  for (const job of pkg.jobs) {
    const item = job.result?.item ?? "envelope";
    const routes: ["ok" | "error", EventDef | undefined][] = [
      ["ok", job.result?.ok],
      ["error", job.result?.error],
    ];
    for (const [route, def] of routes) {
      if (!def) continue;
      const kinds = outcomes(route, item);
      if (kinds.length === 0) continue;
      const validate = await validator(def.schema.schemaref);
      if (!validate || conditional(validate.schema)) continue;
      const refused: { name: string; why: string }[] = [];
      for (const o of kinds) {
        let valid: boolean;
        try {
          valid = validate(o.item) as boolean;
        } catch (err) {
          // A schema that loops on this value: the webhook refuses such
          // items; nothing to warn of here.
          if (isEndlessSchema(err)) continue;
          throw err;
        }
        if (valid) continue;
        const decisive = (validate.errors ?? []).find(o.decisive);
        if (!decisive) continue;
        const d = describeSchemaError(decisive);
        refused.push({ name: o.name, why: `${d.path} ${d.message}` });
      }
      if (refused.length === 0) continue;
      const all = refused.length === kinds.length;
      const what = refused.map((r) => `${r.name} (${r.why})`).join("; ");
      const head =
        `Result event "${def.id}" (result.${route} of "${job.event.id}"): schema "${def.schema.schemaref}"`;
      out.push({
        event: def.id,
        of: job.event.id,
        result: route,
        schema: def.schema.schemaref,
        message: all && item === "envelope"
          ? `${head} can never accept what the chain sends, ${what}: such items are dropped. Use item: result to send the result itself, or a schema of the envelope`
          : `${head} never accepts ${what}: such items are dropped`,
      });
    }
  }
  return out;
}
