/**
 * Per-tenant files: Jobicolet modules and JSON Schemas. Bytes are stored
 * once per content (sha-256) in the blob store; a name points to a blob.
 * Uploads are checked: a module by compiling it, by its imports (only what
 * the Jobicolet host provides: `env.log` and WASI preview 1) and with the
 * fuel meter (it must be rewritable with an instruction budget), a schema by
 * compiling it as a JSON Schema (draft 2020-12). Every change is counted
 * against the tenant's quotas by the usage ledger.
 */
import type { FileInfo } from "../../api/mod.ts";
import {
  type BlobStore,
  NotFoundError,
  sha256Hex,
  TooLargeError,
} from "@jobico/goico";
import type { FileKind } from "../model/job_package.ts";
import { DEFAULT_MAX_LIMITS } from "../model/runtime_limits.ts";
import { keys, SAFE_FILE_NAME } from "../model/keys.ts";
import { checkName } from "../http/check_name.ts";
import { checkUpload } from "./check_upload.ts";
import { UsageLedger } from "./usage_ledger.ts";

/** An uploaded file of a tenant, as the API answers it. */
export type { FileInfo };

/**
 * The sizes a {@linkcode FileRepo} accepts and the ledger it counts in.
 *
 * @example
 * ```ts
 * const repo = new FileRepo(kv, blobs, { ledger, maxWasmBytes: 4 * 1024 * 1024 });
 * ```
 */
export interface FileRepoOptions {
  /**
   * Largest module accepted, in bytes (16 MiB).
   *
   * @default {16777216}
   */
  maxWasmBytes?: number;
  /**
   * Largest schema accepted, in bytes (256 KiB).
   *
   * @default {262144}
   */
  maxSchemaBytes?: number;
  /**
   * The highest memory limit a runtime may declare, in MiB: a module that
   * starts with more (memory and tables), or that the limit cannot cover
   * (several memories...), is refused.
   *
   * @default {DEFAULT_MAX_LIMITS.memoryMb}
   */
  maxMemoryMb?: number;
  /**
   * The clock.
   *
   * @default {Date.now}
   */
  now?: () => number;
  /**
   * Counts what each tenant stores and holds it to its quotas. Without, a
   * ledger without quotas.
   *
   * @default {new UsageLedger(kv, blobs)}
   */
  ledger?: UsageLedger;
  /**
   * Runs the checks of an upload (check_upload.ts): the platform gives an
   * `UploadChecker`'s, which runs them in a Worker.
   *
   * @default {checkUpload} (in this isolate)
   */
  check?: (
    kind: FileKind,
    name: string,
    bytes: Uint8Array,
    maxMemoryMb: number,
  ) => Promise<void>;
}

export class FileRepo {
  readonly #maxWasm: number;
  readonly #maxSchema: number;
  readonly #maxMemoryMb: number;
  readonly #now: () => number;
  readonly #checkUpload: NonNullable<FileRepoOptions["check"]>;
  /** What each tenant stores (files, bytes, versions). */
  readonly ledger: UsageLedger;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly blobs: BlobStore,
    options: FileRepoOptions = {},
  ) {
    this.#maxWasm = options.maxWasmBytes ?? 16 * 1024 * 1024;
    this.#maxSchema = options.maxSchemaBytes ?? 256 * 1024;
    this.#maxMemoryMb = options.maxMemoryMb ?? DEFAULT_MAX_LIMITS.memoryMb;
    this.#now = options.now ?? Date.now;
    this.ledger = options.ledger ?? new UsageLedger(kv, blobs);
    this.#checkUpload = options.check ?? checkUpload;
  }

  #check(kind: FileKind, name: string, bytes: Uint8Array): Promise<void> {
    return this.#checkUpload(kind, name, bytes, this.#maxMemoryMb);
  }

  /** The largest upload of any kind. */
  get maxBytes(): number {
    return Math.max(this.#maxWasm, this.#maxSchema);
  }

  /** Guesses the kind from the bytes: the wasm magic number, or else a schema. */
  static sniff(bytes: Uint8Array): FileKind {
    return bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0x61 &&
        bytes[2] === 0x73 && bytes[3] === 0x6d
      ? "wasm"
      : "schema";
  }

  /** Checks and stores a file, replacing an earlier one of the same name. */
  async put(
    tenant: string,
    name: string,
    bytes: Uint8Array,
    kind: FileKind = FileRepo.sniff(bytes),
  ): Promise<FileInfo> {
    checkName("tenant", tenant);
    checkName("file name", name, SAFE_FILE_NAME);
    if (kind === "wasm") {
      if (bytes.length > this.#maxWasm) {
        throw new TooLargeError(
          `Module "${name}" is ${bytes.length} bytes; the limit is ${this.#maxWasm}`,
        );
      }
      await this.#check("wasm", name, bytes);
    } else {
      if (bytes.length > this.#maxSchema) {
        throw new TooLargeError(
          `Schema "${name}" is ${bytes.length} bytes; the limit is ${this.#maxSchema}`,
        );
      }
      await this.#check("schema", name, bytes);
    }
    const sha256 = await sha256Hex(bytes);
    // Refused before the bytes are stored when it cannot fit.
    await this.ledger.checkFile(tenant, name, { sha256, size: bytes.length });
    // The bytes, then their name in the same write that makes them visible
    // (and counts them): a crash before it leaves chunks that the collector
    // removes, never a name without its bytes or bytes nothing names.
    const stage = () => this.blobs.stage(bytes);
    const staged = await stage();
    const info: FileInfo = {
      tenant,
      name,
      kind,
      size: staged.meta.size,
      sha256: staged.meta.sha256,
      uploadedAt: new Date(this.#now()).toISOString(),
    };
    await this.ledger.putFile(info, stage, staged);
    return info;
  }

  /**
   * Removes a file. Package versions that use its content keep it (and it
   * counts in the tenant's bytes until they go).
   */
  async delete(tenant: string, name: string): Promise<FileInfo> {
    checkName("tenant", tenant);
    checkName("file name", name, SAFE_FILE_NAME);
    return await this.ledger.deleteFile(tenant, name);
  }

  async info(tenant: string, name: string): Promise<FileInfo | null> {
    return (await this.kv.get<FileInfo>(keys.file(tenant, name))).value;
  }

  async list(tenant: string): Promise<FileInfo[]> {
    const out: FileInfo[] = [];
    for await (
      const e of this.kv.list<FileInfo>({ prefix: keys.files(tenant) })
    ) out.push(e.value);
    return out;
  }

  /** The bytes of a named file. */
  async read(
    tenant: string,
    name: string,
  ): Promise<{ info: FileInfo; bytes: Uint8Array }> {
    const info = await this.info(tenant, name);
    if (!info) {
      throw new NotFoundError(`Tenant "${tenant}" has no file "${name}"`);
    }
    return { info, bytes: await this.bytes(info.sha256) };
  }

  /** The bytes of a blob by content hash. */
  async bytes(sha256: string): Promise<Uint8Array> {
    const bytes = await this.blobs.get(sha256);
    if (!bytes) {
      throw new NotFoundError(`No stored content with sha-256 "${sha256}"`);
    }
    return bytes;
  }
}
