/**
 * The package the benchmarks deploy: tenant "bench", one event "ping"
 * validated by a small schema and queued on "pings", run by the echo
 * Jobicolet (tests/jobicolets/echo.wat, compiled with wabt), which returns
 * its input with code 0.
 */
import { compileWat } from "../tests/jobicolets/compile_wat.ts";

export const TENANT = "bench";
export const EVENT = "ping";

export const SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    n: { type: "integer", minimum: 0 },
    name: { type: "string", maxLength: 100 },
  },
  required: ["n"],
  additionalProperties: false,
};

export const PACKAGE = `
id: bench
tenant: ${TENANT}
queues:
  - id: pings
jobs:
  - event:
      id: ${EVENT}
      schema: {id: ping-schema, schemaref: ping.schema.json}
      supplierqueue: pings
      runtime: echo
runtimes:
  - {id: echo, moduleref: echo.wasm, retries: 0}
`;

/** One item as the benchmarks send it. */
export const ITEM = { n: 1, name: "Ada" };

/** The body of a request carrying `n` items. */
export function eventBody(n: number): string {
  return JSON.stringify({ data: Array.from({ length: n }, () => ITEM) });
}

/**
 * Uploads the schema and the module and deploys the package; with `auth`,
 * its event takes that `auth` (`hmac`: signed requests).
 */
export async function deployBenchPackage(
  url: string,
  token: string,
  auth?: "token" | "hmac" | "public",
): Promise<void> {
  const api = async (path: string, init: RequestInit, want: number) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    const res = await fetch(url + path, { ...init, headers });
    const text = await res.text();
    if (res.status !== want) {
      throw new Error(`${init.method} ${path}: ${res.status} ${text}`);
    }
  };
  await api(`/api/v1/tenants/${TENANT}/files/ping.schema.json`, {
    method: "PUT",
    body: JSON.stringify(SCHEMA),
  }, 201);
  await api(`/api/v1/tenants/${TENANT}/files/echo.wasm`, {
    method: "PUT",
    body: await compileWat("echo") as Uint8Array<ArrayBuffer>,
  }, 201);
  await api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/yaml" },
    body: auth
      ? PACKAGE.replace(
        "      runtime: echo\n",
        `      runtime: echo\n      auth: ${auth}\n`,
      )
      : PACKAGE,
  }, 201);
}
