/** The file repository's API: upload, download, list and delete a tenant's files. */
import { Hono } from "hono";
import { describeRoute } from "hono-openapi";
import { chunkedBody, ValidationError } from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import type { FileKind } from "../model/job_package.ts";
import { SAFE_FILE_NAME } from "../model/keys.ts";
import { json, PATH, problems, ref } from "../openapi/schemas.ts";
import { SHA256_PATTERN } from "../../api/mod.ts";
import { readBytes } from "../http/read_body.ts";
import { FileRepo } from "./file_repo.ts";

/** Files larger than this are sent in chunks. */
const STREAM_ABOVE = 1024 * 1024;

export function repoApp(repo: FileRepo): Hono {
  const app = new Hono();

  app.put("/api/v1/tenants/:tenant/files/:name", DOCS.upload, async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const name = checkName("file name", c.req.param("name"), SAFE_FILE_NAME);
    const kindParam = c.req.query("kind");
    if (
      kindParam !== undefined && kindParam !== "wasm" && kindParam !== "schema"
    ) {
      throw new ValidationError(
        `Invalid kind "${kindParam}": use wasm or schema`,
      );
    }
    const bytes = await readBytes(c.req.raw, repo.maxBytes, `File "${name}"`);
    if (bytes.length === 0) {
      throw new ValidationError(`File "${name}" is empty`);
    }
    const kind: FileKind = (kindParam as FileKind | undefined) ??
      (name.endsWith(".wasm")
        ? "wasm"
        : name.endsWith(".json")
        ? "schema"
        : FileRepo.sniff(bytes));
    return c.json(await repo.put(tenant, name, bytes, kind), 201);
  });

  app.get("/api/v1/tenants/:tenant/files", DOCS.list, async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    return c.json({ files: await repo.list(tenant) });
  });

  app.delete("/api/v1/tenants/:tenant/files/:name", DOCS.remove, async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const name = checkName("file name", c.req.param("name"), SAFE_FILE_NAME);
    await repo.delete(tenant, name);
    return c.body(null, 204);
  });

  app.get("/api/v1/tenants/:tenant/files/:name", DOCS.download, async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const name = checkName("file name", c.req.param("name"), SAFE_FILE_NAME);
    const { info, bytes } = await repo.read(tenant, name);
    // A large file goes in chunks, so that the server's idle timeout does
    // not cut a client still reading it (goico/chunked_body.ts).
    return c.body(
      bytes.length > STREAM_ABOVE
        ? chunkedBody(bytes)
        : bytes as Uint8Array<ArrayBuffer>,
      200,
      {
        "content-type": info.kind === "wasm"
          ? "application/wasm"
          : "application/schema+json",
        "content-length": String(bytes.length),
        "x-content-sha256": info.sha256,
      },
    );
  });
  return app;
}

/** The API description of each route (components/openapi). */
const DOCS = {
  upload: describeRoute({
    operationId: "uploadFile",
    tags: ["files"],
    summary: "Upload a module or a schema",
    description:
      "The raw bytes, checked now: a module must compile, import only what " +
      "the host provides and take an instruction limit (at most 16 MiB); a " +
      "schema must compile, with patterns RE2 can run (at most 256 KiB). " +
      "The kind is `kind`, else the name's extension (.wasm, .json), else " +
      "the content. Replaces an earlier file of the name; deployed versions " +
      "keep the content they pinned. Counted against the tenant's quotas: " +
      "`quotas.files` names and `quotas.bytes` bytes (each distinct content " +
      "its files and kept versions use, once).",
    parameters: [
      PATH.tenant,
      PATH.name,
      {
        name: "kind",
        in: "query",
        description: "What the file is",
        schema: { type: "string", enum: ["wasm", "schema"] },
      },
    ],
    requestBody: {
      required: true,
      content: {
        "application/wasm": {
          schema: { type: "string", contentMediaType: "application/wasm" },
        },
        "application/schema+json": {
          schema: {
            type: ["object", "boolean"],
            description: "A JSON Schema (2020-12)",
          },
        },
        "application/octet-stream": {
          schema: {
            type: "string",
            contentMediaType: "application/octet-stream",
          },
        },
      },
    },
    responses: {
      201: json("Stored", ref("FileInfo")),
      ...problems(
        [
          400,
          "A bad name or kind, an empty body, or a module or schema that " +
          "does not pass its checks",
        ],
        401,
        403,
        [
          413,
          "Larger than the kind's limit, or than what the tenant's bytes " +
          "quota leaves (`quota`, `limit`, `usage`, `requested` say which)",
        ],
        [
          429,
          "The tenant has as many files as its files quota allows (no " +
          "Retry-After: waiting does not help; deleting a file does)",
        ],
      ),
    },
  }),
  list: describeRoute({
    operationId: "listFiles",
    tags: ["files"],
    summary: "List a tenant's files",
    parameters: [PATH.tenant],
    responses: {
      200: json("The files", ref("FileList")),
      ...problems(400, 401, 403, [404, "No such tenant"]),
    },
  }),
  remove: describeRoute({
    operationId: "deleteFile",
    tags: ["files"],
    summary: "Delete a file",
    description:
      "The name goes; package versions that use its content keep it (and " +
      "it counts in the tenant's bytes until they go).",
    parameters: [PATH.tenant, PATH.name],
    responses: {
      204: { description: "Deleted" },
      ...problems(
        400,
        401,
        403,
        [404, "The tenant has no such file"],
        [409, "The tenant is changed concurrently"],
      ),
    },
  }),
  download: describeRoute({
    operationId: "getFile",
    tags: ["files"],
    summary: "Download a file's bytes",
    parameters: [PATH.tenant, PATH.name],
    responses: {
      200: {
        description: "The bytes as uploaded",
        headers: {
          "x-content-sha256": {
            description: "sha-256 of the bytes, lowercase hex",
            schema: { type: "string", pattern: SHA256_PATTERN },
          },
        },
        content: {
          "application/wasm": {
            schema: { type: "string", contentMediaType: "application/wasm" },
          },
          "application/schema+json": {
            schema: { type: ["object", "boolean"] },
          },
        },
      },
      ...problems(400, 401, 403, [404, "The tenant has no such file"]),
    },
  }),
};
