import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { CliError } from "../cli_error.ts";
import { moduleInfo } from "../module_info.ts";
import { formatDateTime } from "../output.ts";
import { formatBytes } from "../progress.ts";

/**
 * `jobico files show <tenant> <name>`: a schema's content, or a module's
 * size, SHA-256, imports and exports (read from the downloaded bytes).
 */
export function filesShowCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("show")
    .description(
      "Show an uploaded file: a schema's JSON, or a module's size, SHA-256, imports and exports",
    )
    .argument("<tenant>", "the tenant")
    .argument("<name>", "the file name (see: jobico files list)")
    .option(
      "--json",
      "print the file's details (and a schema's content) as JSON",
    )
    .addHelpText(
      "after",
      `
Examples:
  jobico files show demo greet.schema.json
  jobico files show demo greet.wasm
  jobico files show demo greet.wasm --json`,
    )
    .action(
      async (
        tenant: string,
        name: string,
        options: { json?: boolean },
        command: Command,
      ) => {
        const client = ctx.client(command);
        const info = (await client.listFiles(tenant)).find((f) =>
          f.name === name
        );
        if (!info) {
          throw new CliError(`File "${name}" not found in tenant "${tenant}"`, {
            hint: `See what exists: jobico files list ${tenant}`,
          });
        }
        const bytes = await client.getFile(tenant, name);
        const fields: [string, string][] = [
          ["name", info.name],
          ["kind", info.kind],
          ["size", `${info.size} bytes (${formatBytes(info.size)})`],
          ["sha256", info.sha256],
          ["uploaded", formatDateTime(info.uploadedAt)],
        ];
        if (info.kind === "schema") {
          const schema = JSON.parse(new TextDecoder().decode(bytes));
          if (options.json) return ctx.out.json({ ...info, schema });
          ctx.out.fields(fields);
          ctx.out.line();
          return ctx.out.json(schema);
        }
        const mod = await moduleInfo(bytes);
        if (mod.sha256 !== info.sha256) {
          throw new CliError(
            `The bytes of "${name}" do not match their SHA-256 (${
              info.sha256.slice(0, 12)
            }, downloaded ${mod.sha256.slice(0, 12)})`,
            {
              hint:
                "It may have been replaced meanwhile: run the command again",
            },
          );
        }
        if (options.json) {
          return ctx.out.json({
            ...info,
            imports: mod.imports,
            exports: mod.exports,
          });
        }
        ctx.out.fields([
          ...fields,
          ["imports", String(mod.imports.length)],
          ["exports", String(mod.exports.length)],
        ]);
        if (mod.imports.length) {
          ctx.out.line();
          ctx.out.table(
            ["IMPORT", "KIND"],
            mod.imports.map((i) => [`${i.module}.${i.name}`, i.kind]),
          );
        }
        if (mod.exports.length) {
          ctx.out.line();
          ctx.out.table(
            ["EXPORT", "KIND"],
            mod.exports.map((e) => [e.name, e.kind]),
          );
        }
      },
    );
}
