/**
 * The Jobico HTTP API (v1), described once: the schemas of what its routes
 * take and answer (JSON Schema objects made with TypeBox, each with its
 * TypeScript type of the same name), the limits and name patterns they
 * carry. The server generates its OpenAPI document and checks request
 * bodies from these; the server's answers and the CLI are typed by them.
 *
 * It imports only TypeBox and the model's name patterns
 * (tests/import_rules_test.ts).
 *
 * @module
 */
export * from "./limits.ts";
export * from "./names.ts";
export * from "./problem_schema.ts";
export * from "./tenant_schemas.ts";
export * from "./package_schemas.ts";
export * from "./file_schemas.ts";
export * from "./execution_schemas.ts";
export * from "./queue_schemas.ts";
export * from "./schedule_schemas.ts";
export * from "./event_schemas.ts";
export * from "./schemas.ts";
