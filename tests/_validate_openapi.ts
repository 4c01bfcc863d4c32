/**
 * Checks an OpenAPI document with @scalar/openapi-parser in a process of its
 * own (see scripts/dev_tools.ts: the tool is not in deno.lock). As a script
 * it reads the document on stdin and prints `{valid, version, errors}`;
 * {@linkcode validateOpenApi} runs it.
 *
 * @module
 */
import { DEV_TOOLS, devToolArgs } from "../scripts/dev_tools.ts";

/** What the parser says of a document. */
export interface OpenApiValidation {
  valid: boolean;
  version?: string;
  errors: unknown[];
}

/** Validates `spec` with @scalar/openapi-parser, in a subprocess. */
export async function validateOpenApi(
  spec: unknown,
): Promise<OpenApiValidation> {
  const child = new Deno.Command(Deno.execPath(), {
    args: devToolArgs(new URL(import.meta.url).pathname, []),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(spec)));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  if (code !== 0) {
    throw new Error(
      `The OpenAPI validator failed: ${new TextDecoder().decode(stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(stdout));
}

if (import.meta.main) {
  // A specifier in a variable: `deno check .` does not resolve it.
  const tool = DEV_TOOLS.openapiParser;
  const { validate } = await import(tool);
  const spec = JSON.parse(await new Response(Deno.stdin.readable).text());
  const result = await validate(spec);
  console.log(JSON.stringify({
    valid: result.valid,
    version: result.version,
    errors: result.errors ?? [],
  }));
}
