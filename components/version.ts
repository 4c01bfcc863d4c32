/**
 * The project's version: deno.json's `version`, read here and nowhere else
 * (the platform's /meta and API document, the CLI's `--version`).
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };

/** The version of Jobico, as deno.json gives it. */
export const VERSION: string = denoJson.version;
