/**
 * A server setting (a JOBICO_* environment variable or a `jobico serve`
 * flag) that is not valid. Not a domain error: it is the operator's to fix
 * before the server starts, never a client's 400. The CLI and main.ts print
 * its message and exit 2; anywhere else it is a bug of the caller (a 500).
 */
export class SettingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SettingError";
  }
}
