/**
 * The server's admin token: JOBICO_ADMIN_TOKEN when set; otherwise one
 * generated on first start. Either is kept in `<data>/admin-token` (mode
 * 0600), so a local platform is never open and the CLI on the same machine
 * can read the token it takes. A store that is not a local directory
 * (`:memory:`, a KV Connect URL) gets a fresh token each start, printed in
 * the log.
 */
import {
  ensurePrivateDir,
  keepPrivateFile,
  type Logger,
  writePrivateFile,
} from "@jobico/goico";
import { SettingError } from "./setting_error.ts";

/** Shortest admin token accepted. */
export const MIN_ADMIN_TOKEN = 16;

/** Where the generated admin token of a data directory is kept. */
export function adminTokenFile(data: string): string {
  return `${data.replace(/\/+$/, "")}/admin-token`;
}

/** Whether the data is a directory of this machine (not `:memory:`, not a KV URL). */
export function isLocalDir(data: string): boolean {
  return data !== ":memory:" && !/^https?:\/\//.test(data);
}

/**
 * The admin token: `configured` (JOBICO_ADMIN_TOKEN), which is then also
 * written to `<data>/admin-token` so the file always holds the token this
 * platform takes; else the one kept in that file; else a new one, kept
 * there. A store with no directory gets a new token each start, logged.
 */
export async function resolveAdminToken(
  configured: string | undefined,
  data: string,
  logger: Logger,
): Promise<string> {
  if (configured !== undefined) {
    if (configured.length < MIN_ADMIN_TOKEN || /\s/.test(configured)) {
      throw new SettingError(
        `Invalid JOBICO_ADMIN_TOKEN: use at least ${MIN_ADMIN_TOKEN} characters and no spaces`,
      );
    }
    if (isLocalDir(data)) {
      // The file says which token this platform takes: the CLI (and the
      // README's `cat .jobico/admin-token`) reads it, so an older generated
      // token left there would be refused.
      const file = adminTokenFile(data);
      await ensurePrivateDir(data, { logger });
      const kept = await Deno.readTextFile(file).catch(() => undefined);
      if (kept?.trim() !== configured) {
        await writePrivateFile(file, configured + "\n");
        logger.info("admin token from JOBICO_ADMIN_TOKEN, written", { file });
        return configured;
      }
    }
    logger.info("admin token from JOBICO_ADMIN_TOKEN");
    return configured;
  }
  const token = "jba_" + Array.from(
    crypto.getRandomValues(new Uint8Array(24)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  if (!isLocalDir(data)) {
    logger.warn("admin token generated for this run only", { token });
    return token;
  }
  const file = adminTokenFile(data);
  await ensurePrivateDir(data, { logger });
  const kept = await keepPrivateFile(file, () => token, (text) => {
    const t = text.trim();
    return t.length >= MIN_ADMIN_TOKEN ? t : undefined;
  });
  if (!kept) {
    throw new Error(
      `${file} holds no admin token: delete it to make a new one, or set JOBICO_ADMIN_TOKEN`,
    );
  }
  logger.info(kept.created ? "admin token generated" : "admin token", { file });
  return kept.value;
}
