/**
 * The key that seals tenants' webhook secrets at rest (see
 * goico/secret_box.ts): JOBICO_SECRET_KEY when set (64 hex digits or
 * base64 of 32 bytes); otherwise one generated on first start and kept in
 * `<data>/secret-key` (mode 0600), outside the store, so a copy of
 * `kv.sqlite3` alone does not give the secrets away. `:memory:` gets a key
 * for this run. A remote store (a KV Connect URL) without
 * JOBICO_SECRET_KEY has nowhere to keep one: the secrets stay in clear,
 * and the log says so.
 */
import {
  ensurePrivateDir,
  formatSecretKey,
  keepPrivateFile,
  type Logger,
  newSecretKey,
  parseSecretKey,
} from "@jobico/goico";
import { SettingError } from "./setting_error.ts";

/** Where the generated secret key of a data directory is kept. */
export function secretKeyFile(data: string): string {
  return `${data.replace(/\/+$/, "")}/secret-key`;
}

/** @throws {SettingError} a JOBICO_SECRET_KEY that is not a key */
export function checkSecretKey(
  text: string,
  name = "JOBICO_SECRET_KEY",
): Uint8Array {
  const key = parseSecretKey(text);
  if (!key) {
    throw new SettingError(
      `Invalid ${name}: use 64 hex digits or the base64 of 32 bytes (e.g. openssl rand -hex 32)`,
    );
  }
  return key;
}

export async function resolveSecretKey(
  configured: string | undefined,
  data: string,
  logger: Logger,
): Promise<Uint8Array | null> {
  if (configured !== undefined) {
    logger.info("secret key from JOBICO_SECRET_KEY");
    return checkSecretKey(configured);
  }
  if (data === ":memory:") return newSecretKey();
  if (/^https?:\/\//.test(data)) {
    logger.warn(
      "webhook secrets are stored in clear: set JOBICO_SECRET_KEY to seal them",
    );
    return null;
  }
  const file = secretKeyFile(data);
  await ensurePrivateDir(data, { logger });
  const kept = await keepPrivateFile(
    file,
    () => formatSecretKey(newSecretKey()),
    (text) => parseSecretKey(text) ?? undefined,
  );
  if (!kept) {
    throw new Error(
      `${file} holds no secret key: restore it (webhook secrets sealed with it cannot be read without it), or set JOBICO_SECRET_KEY`,
    );
  }
  if (kept.created) logger.info("secret key generated", { file });
  return kept.value;
}
