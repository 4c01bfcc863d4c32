/** The file repository's API: upload, download and list a tenant's files. */
import { Hono } from "hono";
import { ValidationError } from "../../goico/mod.ts";
import { checkName } from "../check_name.ts";
import type { FileKind } from "../ctl/job_package.ts";
import { SAFE_FILE_NAME } from "../keys.ts";
import { readBytes } from "../read_body.ts";
import { FileRepo } from "./file_repo.ts";

export function repoApp(repo: FileRepo): Hono {
  const app = new Hono();

  app.put("/api/v1/tenants/:tenant/files/:name", async (c) => {
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

  app.get("/api/v1/tenants/:tenant/files", async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    return c.json({ files: await repo.list(tenant) });
  });

  app.get("/api/v1/tenants/:tenant/files/:name", async (c) => {
    const tenant = checkName("tenant", c.req.param("tenant"));
    const name = checkName("file name", c.req.param("name"), SAFE_FILE_NAME);
    const { info, bytes } = await repo.read(tenant, name);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": info.kind === "wasm"
        ? "application/wasm"
        : "application/schema+json",
      "x-content-sha256": info.sha256,
    });
  });
  return app;
}
