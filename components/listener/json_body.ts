/**
 * Body parsing for the listener: the bytes as strict UTF-8, then JSON
 * nesting at most `maxDepth` levels (measured before parsing, without
 * recursion: see parse_json_body.ts), then `JSON.parse`.
 */
import type { Step } from "../http/pipeline.ts";
import { parseJsonBody } from "../http/parse_json_body.ts";
import { decodeUtf8 } from "../http/read_body.ts";
import { EVENT_BODY } from "./event_bytes.ts";
import type { ListenerEnv } from "./listener_env.ts";

export interface JsonBodyOptions {
  /**
   * Levels of arrays and objects the body may nest.
   *
   * @default {64}
   */
  maxDepth?: number;
}

/**
 * Sets `body` from `bodyBytes` (eventBytes).
 *
 * @throws {ValidationError} not UTF-8, nested too deep, or not JSON (400)
 */
export function jsonBody(options: JsonBodyOptions = {}): Step<ListenerEnv> {
  const parse = { maxDepth: options.maxDepth };
  return function jsonBody(c, next) {
    const text = decodeUtf8(c.get("bodyBytes") ?? new Uint8Array(), EVENT_BODY);
    c.set("body", parseJsonBody(text, EVENT_BODY, parse));
    return next();
  };
}
