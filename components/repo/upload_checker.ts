/**
 * Runs the checks of an upload (check_upload.ts) in a Worker of its own,
 * one upload at a time, so that compiling a schema or metering a module
 * (up to about a second for what the limits allow) never holds the main
 * isolate, which serves every tenant's events (small uploads, cheaper to
 * check than a Worker is to start, are checked in place). A check that takes longer
 * than `timeoutMs` is refused and its Worker replaced. The Worker has no
 * permissions; it starts with the first upload and ends with `close`.
 */
import { TooLargeError, ValidationError } from "@jobico/goico";
import type { FileKind } from "../model/job_package.ts";
import type { CheckAnswer, CheckRequest } from "./_upload_check_worker.ts";
import { checkUpload } from "./check_upload.ts";

export interface UploadCheckerOptions {
  /**
   * The longest one check may take, in ms.
   *
   * @default {10000}
   */
  timeoutMs?: number;
  /**
   * Uploads up to this size, in bytes, are checked in this isolate: what
   * they can cost is less than a Worker's start (a 2 KiB schema compiles
   * in at most ~50 ms, a 64 KiB module meters in ~20 ms; starting the
   * Worker and loading the checks takes ~300 ms of CPU).
   *
   * @default {{ schema: 2048, wasm: 65536 }}
   */
  inProcessBytes?: { schema: number; wasm: number };
}

export class UploadChecker {
  readonly #timeoutMs: number;
  readonly #inProcess: { schema: number; wasm: number };
  #worker: Worker | undefined;
  #nextId = 1;
  /** The check under way; the next waits for it. */
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: UploadCheckerOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#inProcess = options.inProcessBytes ?? { schema: 2048, wasm: 65536 };
  }

  /**
   * Checks an upload (see checkUpload).
   *
   * @throws {ValidationError} naming the file and what is wrong with it
   */
  check(
    kind: FileKind,
    name: string,
    bytes: Uint8Array,
    maxMemoryMb: number,
  ): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new Error("The upload checker is closed"));
    }
    if (bytes.length <= this.#inProcess[kind]) {
      return checkUpload(kind, name, bytes, maxMemoryMb);
    }
    const run = this.#tail.then(() =>
      this.#run({ id: this.#nextId++, kind, name, bytes, maxMemoryMb })
    );
    this.#tail = run.catch(() => {});
    return run;
  }

  #run(request: CheckRequest): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new Error("The upload checker is closed"));
    }
    const worker = this.#worker ??= new Worker(
      new URL("./_upload_check_worker.ts", import.meta.url),
      { type: "module", name: "upload-check", deno: { permissions: "none" } },
    );
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.onmessage = worker.onerror = null;
      };
      const timer = setTimeout(() => {
        done();
        this.#drop(worker);
        const what = request.kind === "wasm" ? "Module" : "Schema";
        reject(
          new ValidationError(
            `${what} "${request.name}" took longer than ${
              this.#timeoutMs / 1000
            } s to check: it is too large or too complex`,
          ),
        );
      }, this.#timeoutMs);
      worker.onmessage = ({ data }: MessageEvent<CheckAnswer>) => {
        if (data.id !== request.id) return;
        done();
        if (data.ok) return resolve();
        reject(
          data.kind === "too_large"
            ? new TooLargeError(data.message, data.extra)
            : data.kind === "invalid"
            ? new ValidationError(data.message, data.extra)
            : new Error(`Checking "${request.name}" failed: ${data.message}`),
        );
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        done();
        this.#drop(worker);
        reject(new Error(`Checking "${request.name}" failed: ${e.message}`));
      };
      worker.postMessage(request);
    });
  }

  #drop(worker: Worker): void {
    worker.terminate();
    if (this.#worker === worker) this.#worker = undefined;
  }

  /** Ends the Worker; later checks are refused. */
  close(): void {
    this.#closed = true;
    if (this.#worker) this.#drop(this.#worker);
  }
}
