import type { Command } from "commander";
import type { FileKind } from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";

interface UploadOptions {
  name?: string;
  json?: boolean;
}

/** The part of a path after its last `/` or `\`. */
export function basename(path: string): string {
  const parts = path.split(/[\\/]/).filter((p) => p !== "");
  return parts.at(-1) ?? path;
}

/** Defines `upload-wasm` or `upload-schema`: PUT a local file's bytes. */
export function uploadFileCommand(
  parent: Command,
  ctx: CliContext,
  kind: FileKind,
): Command {
  const what = kind === "wasm" ? "a WebAssembly module" : "a JSON Schema";
  return parent.command(`upload-${kind}`)
    .description(`Upload ${what} to a tenant's repository`)
    .argument("<tenant>", "the tenant")
    .argument("<file>", `the ${kind === "wasm" ? ".wasm" : ".json"} file`)
    .option("--name <name>", "the name to store it under (default: file name)")
    .option("--json", "print the result as JSON")
    .action(
      async (
        tenant: string,
        file: string,
        options: UploadOptions,
        command: Command,
      ) => {
        const bytes = await ctx.readFile(file);
        const name = options.name || basename(file);
        const info = await ctx.client(command).uploadFile(
          tenant,
          name,
          kind,
          bytes,
        );
        if (options.json) return ctx.out.json(info);
        ctx.out.line(`Uploaded ${tenant}/${info.name}`);
        ctx.out.fields([
          ["name", info.name],
          ["kind", info.kind ?? kind],
          ["size", `${info.size} bytes`],
          ["sha256", info.sha256],
        ]);
      },
    );
}
