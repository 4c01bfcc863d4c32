/**
 * The pieces of the API description that are OpenAPI's own: references to
 * the schemas, responses, the problem responses the routes share, the
 * path, query and header parameters. The schemas themselves are the API's
 * (api/: one source for the document, the types and the checks); each
 * route file describes its routes with `describeRoute` from these, and
 * `openapi_routes.ts` assembles them into the document.
 */
import type { OpenAPIV3_1 } from "openapi-types";
import type { TSchema } from "@sinclair/typebox";
import {
  CURSOR_PATTERN,
  ExecutionQuery,
  FILE_NAME_PATTERN,
  ID19_PATTERN,
  NAME_PATTERN,
  PageLimit,
  PENDING_FILE_PATTERN,
  type SchemaName,
  SCHEMAS,
} from "../../api/mod.ts";

export {
  CURSOR_PATTERN,
  FILE_NAME_PATTERN,
  ID19_PATTERN,
  NAME_PATTERN,
  PENDING_FILE_PATTERN,
  SCHEMAS,
};

export type Schema = OpenAPIV3_1.SchemaObject | OpenAPIV3_1.ReferenceObject;
export type Parameter = OpenAPIV3_1.ParameterObject;
export type Response = OpenAPIV3_1.ResponseObject | OpenAPIV3_1.ReferenceObject;

/** An API schema (api/) as a parameter's schema. */
export function asSchema(schema: TSchema): NonNullable<Parameter["schema"]> {
  return schema as unknown as NonNullable<Parameter["schema"]>;
}

/** A reference to a schema of `SCHEMAS`. */
export function ref(schema: SchemaName): OpenAPIV3_1.ReferenceObject {
  return { $ref: `#/components/schemas/${schema}` };
}

/** A response whose body is JSON of `schema`. */
export function json(description: string, schema: Schema): Response {
  return { description, content: { "application/json": { schema } } };
}

/** The problem responses of `components.responses`, by status. */
export const PROBLEM_RESPONSES = {
  400: ["BadRequest", "Invalid request: the detail names the value"],
  401: ["Unauthorized", "No, a malformed or an unknown bearer token"],
  403: [
    "Forbidden",
    "The token may not do this: another tenant's token, or a tenant's on an admin route",
  ],
  404: ["NotFound", "The tenant or the thing named in the path does not exist"],
  409: ["Conflict", "The change conflicts with the current state"],
  413: ["PayloadTooLarge", "The body is larger than the route takes"],
  422: ["Unprocessable", "The package names things that do not resolve"],
  429: ["TooManyRequests", "The queue is full: try again later"],
} as const;

export type ProblemStatus = keyof typeof PROBLEM_RESPONSES;

/**
 * Problem responses by status, each with the shared description or the one
 * given (`[404, "The tenant has no such package"]`).
 */
export function problems(
  ...statuses: (ProblemStatus | [ProblemStatus, string])[]
): Record<string, Response> {
  const out: Record<string, Response> = {};
  for (const s of statuses) {
    const [status, description] = Array.isArray(s) ? s : [s, undefined];
    out[status] = {
      $ref: `#/components/responses/${PROBLEM_RESPONSES[status][0]}`,
      ...(description && { description }),
    };
  }
  return out;
}

/** The responses of `components.responses`. */
export function problemComponents(): Record<
  string,
  OpenAPIV3_1.ResponseObject
> {
  const out: Record<string, OpenAPIV3_1.ResponseObject> = {};
  for (
    const [status, [key, description]] of Object.entries(PROBLEM_RESPONSES)
  ) {
    out[key] = {
      description,
      content: { "application/problem+json": { schema: ref("Problem") } },
      ...(status === "429" && {
        headers: {
          "Retry-After": {
            description: "Whole seconds to wait before trying again",
            schema: { type: "integer", minimum: 0 },
          },
        },
      }),
    };
  }
  return out;
}

const pathParam = (
  paramName: string,
  description: string,
  pattern = NAME_PATTERN,
): Parameter => ({
  name: paramName,
  in: "path",
  required: true,
  description,
  schema: { type: "string", pattern },
});

/** Path parameters, by the name the routes give them. */
export const PATH = {
  tenant: pathParam("tenant", "The tenant"),
  id: pathParam("id", "The package id"),
  event: pathParam("event", "The event id, as its package declares it"),
  queue: pathParam("queue", "The queue id, as a package declares it"),
  name: pathParam("name", "The file name", FILE_NAME_PATTERN),
};

/** `limit` of a paged list. */
export const LIMIT: Parameter = {
  name: "limit",
  in: "query",
  description: "Page size",
  schema: asSchema(PageLimit),
};

/** The filters of the executions list and stream. */
export const EXECUTION_FILTERS: Parameter[] = [
  ["event", "Only this event's executions"],
  ["package", "Only this package's executions"],
  ["status", "Only executions with this status"],
].map(([name, description]) => ({
  name,
  in: "query" as const,
  description,
  schema: asSchema(
    ExecutionQuery.properties[name as "event" | "package" | "status"],
  ),
}));

/** Security requirements: a bearer token (the default), or nothing. */
export const BEARER = [{ bearerAuth: [] }];
export const PUBLIC: OpenAPIV3_1.SecurityRequirementObject[] = [];
