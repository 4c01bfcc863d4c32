import type { Command } from "commander";
import type { FileKind } from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";
import { UsageError } from "../cli_error.ts";

interface UploadOptions {
  name?: string;
  tenant?: string;
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
  const example = kind === "wasm"
    ? "examples/greet/greet.wasm"
    : "examples/greet/greet.schema.json";
  return parent.command(`upload-${kind}`)
    .description(`Upload ${what} to a tenant's repository`)
    .usage("[tenant] <file> [options]")
    .argument("<tenant-or-file>", "the tenant, then the file; or only the file")
    .argument("[file]", `the ${kind === "wasm" ? ".wasm" : ".json"} file`)
    .option("--name <name>", "the name to store it under (default: file name)")
    .option(
      "--tenant <tenant>",
      "the tenant, when only the file is given (env: JOBICO_TENANT, or the " +
        "profile's; default: the token's)",
    )
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico upload-${kind} demo ${example}
  jobico upload-${kind} ${example} --tenant demo --json`,
    )
    .action(
      async (
        first: string,
        second: string | undefined,
        options: UploadOptions,
        command: Command,
      ) => {
        if (second !== undefined && options.tenant !== undefined) {
          throw new UsageError(
            "Pass the tenant either as an argument or with --tenant, not both",
            {
              hint:
                `jobico upload-${kind} ${second} --tenant ${options.tenant}`,
            },
          );
        }
        const file = second ?? first;
        const bytes = await ctx.readFile(file);
        const name = options.name || basename(file);
        const client = ctx.client(command);
        const tenant = second !== undefined ? first : await ctx.tenant(
          command,
          client,
          `file "${name}"`,
          `jobico upload-${kind} ${file} --tenant demo`,
        );
        const info = await client.uploadFile(tenant, name, kind, bytes);
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
