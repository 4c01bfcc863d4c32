/** One module per `jobico` command; each adds itself to a parent command. */
export { deployCommand } from "./deploy.ts";
export { executionsCommand } from "./executions.ts";
export { executionsListCommand } from "./executions_list.ts";
export { filesCommand } from "./files.ts";
export { filesListCommand } from "./files_list.ts";
export { packagesCommand } from "./packages.ts";
export { packagesDeleteCommand } from "./packages_delete.ts";
export { packagesListCommand } from "./packages_list.ts";
export { packagesShowCommand } from "./packages_show.ts";
export { packagesVersionsCommand } from "./packages_versions.ts";
export { positiveInteger, rollbackCommand } from "./rollback.ts";
export { sendCommand } from "./send.ts";
export { statusCommand } from "./status.ts";
export { streamFromRecorderCommand } from "./stream_from_recorder.ts";
export { uploadSchemaCommand } from "./upload_schema.ts";
export { uploadWasmCommand } from "./upload_wasm.ts";
export { serveCommand } from "./serve.ts";
