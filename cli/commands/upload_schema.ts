import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { uploadFileCommand } from "./_upload_file.ts";

/** `jobico upload-schema <tenant> <file> [--name NAME]`. */
export function uploadSchemaCommand(parent: Command, ctx: CliContext): Command {
  return uploadFileCommand(parent, ctx, "schema");
}
