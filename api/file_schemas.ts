/**
 * A tenant's uploaded files.
 *
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import { closed, int, oneOf, ref, time } from "./_kit.ts";
import { FILE_NAME_PATTERN, Name, Sha256 } from "./names.ts";

/** What kind of uploaded file a name refers to. */
export const FileKind = oneOf(["wasm", "schema"] as const);
export type FileKind = Static<typeof FileKind>;

/** An uploaded file of a tenant. */
export const FileInfo = closed({
  tenant: Name("The file's tenant"),
  name: Type.String({ pattern: FILE_NAME_PATTERN }),
  kind: FileKind,
  size: int("Bytes", 1),
  sha256: Sha256(),
  uploadedAt: time("When it was uploaded"),
});
export type FileInfo = Static<typeof FileInfo>;

/** `GET /api/v1/tenants/{t}/files`. */
export const FileList = closed({
  files: Type.Array(ref("FileInfo", FileInfo)),
});
export type FileList = Static<typeof FileList>;
