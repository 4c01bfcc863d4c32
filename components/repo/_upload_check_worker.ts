/**
 * The Worker side of `UploadChecker`: runs `checkUpload` on each message and
 * answers `{id, ok}` or `{id, ok: false, kind, message, extra}` (a
 * `DomainError`'s parts, rebuilt on the other side). Private to
 * upload_checker.ts.
 *
 * @module
 */
import { DomainError } from "@jobico/goico";
import type { FileKind } from "../model/job_package.ts";
import { checkUpload } from "./check_upload.ts";

export interface CheckRequest {
  id: number;
  kind: FileKind;
  name: string;
  bytes: Uint8Array;
  maxMemoryMb: number;
}

export type CheckAnswer =
  | { id: number; ok: true }
  | {
    id: number;
    ok: false;
    kind?: string;
    message: string;
    extra?: Record<string, unknown>;
  };

const scope = self as unknown as {
  onmessage: (e: MessageEvent<CheckRequest>) => void;
  postMessage(answer: CheckAnswer): void;
};

scope.onmessage = async ({ data }) => {
  const { id, kind, name, bytes, maxMemoryMb } = data;
  try {
    await checkUpload(kind, name, bytes, maxMemoryMb);
    scope.postMessage({ id, ok: true });
  } catch (err) {
    scope.postMessage(
      err instanceof DomainError
        ? {
          id,
          ok: false,
          kind: err.kind,
          message: err.message,
          extra: JSON.parse(JSON.stringify(err.extra)),
        }
        : { id, ok: false, message: String(err) },
    );
  }
};
