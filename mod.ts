/**
 * Jobico for Deno: a multi-tenant job execution platform for WebAssembly.
 *
 * ```ts
 * import { startPlatform } from "./mod.ts";
 * const kv = await Deno.openKv(":memory:");
 * const platform = await startPlatform({
 *   kv,
 *   port: 0,
 *   adminToken: crypto.randomUUID(),
 * });
 * console.log(platform.url);
 * await platform.close();
 * kv.close();
 * ```
 * @module
 */
export * from "./components/mod.ts";
export * as goico from "@jobico/goico";
export { JobicoClient } from "./cli/client.ts";
