import type { Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { uploadFileCommand } from "./_upload_file.ts";

/** `jobico upload-wasm <tenant> <file> [--name NAME]`. */
export function uploadWasmCommand(parent: Command, ctx: CliContext): Command {
  return uploadFileCommand(parent, ctx, "wasm");
}
