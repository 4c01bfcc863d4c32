import type { ErrorObject } from "ajv/dist/2020.js";

/**
 * One Ajv error as a JSON Pointer to the field and a message that names it,
 * e.g. `{path: "/name", message: "is required"}` for a missing property.
 */
export function describeSchemaError(
  e: ErrorObject,
): { path: string; message: string } {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "required") {
    return {
      path: `${e.instancePath}/${params.missingProperty}`,
      message: `"${params.missingProperty}" is required`,
    };
  }
  if (e.keyword === "additionalProperties") {
    return {
      path: `${e.instancePath}/${params.additionalProperty}`,
      message: `"${params.additionalProperty}" is not allowed`,
    };
  }
  return {
    path: e.instancePath || "/",
    message: e.message ?? `fails "${e.keyword}"`,
  };
}
