/**
 * The patterns of names and ids the API takes and answers, as JSON Schema
 * `pattern` strings and as schemas.
 *
 * @module
 */
import { type TString, Type } from "@sinclair/typebox";
import { SAFE_FILE_NAME, SAFE_ID } from "../components/model/keys.ts";

/** Tenant, package, event, queue and runtime ids, as every route checks them. */
export const NAME_PATTERN = SAFE_ID.source;
/** File names: the same characters, up to 128 of them. */
export const FILE_NAME_PATTERN = SAFE_FILE_NAME.source;
/** Ids made by the platform: 19 characters of 0-9 and a-z, in time order. */
export const ID19_PATTERN = "^[0-9a-z]{19}$";
/** A sha-256 in lowercase hex. */
export const SHA256_PATTERN = "^[0-9a-f]{64}$";
/** `name:kind:sha256`: a file a dry run treats as uploaded. */
export const PENDING_FILE_PATTERN = `^${
  FILE_NAME_PATTERN.slice(1, -1)
}:(wasm|schema):[0-9a-f]{64}$`;
/** A page cursor of the dead letters (`Deno.Kv.list` cursors are base64). */
export const CURSOR_PATTERN = "^[A-Za-z0-9+/_-]{1,2048}={0,2}$";

/** A name (`NAME_PATTERN`). */
export const Name = (description?: string): TString =>
  Type.String({ pattern: NAME_PATTERN, ...(description && { description }) });

/** An id made by the platform (`ID19_PATTERN`). */
export const Id19 = (description?: string): TString =>
  Type.String({ pattern: ID19_PATTERN, ...(description && { description }) });

/** The sha-256 of a content. */
export const Sha256 = (): TString =>
  Type.String({
    pattern: SHA256_PATTERN,
    description: "sha-256 of the content, lowercase hex",
  });
