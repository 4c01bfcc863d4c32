/** One Server-Sent Events message and its wire format. */

export interface SseMessage {
  event?: string;
  id?: string;
  data: string;
}

const encoder = new TextEncoder();

/** Encodes one message (multi-line data becomes several `data:` lines). */
export function formatSse(msg: SseMessage): string {
  let out = "";
  if (msg.event) out += `event: ${msg.event}\n`;
  if (msg.id) out += `id: ${msg.id}\n`;
  for (const line of msg.data.split("\n")) out += `data: ${line}\n`;
  return out + "\n";
}

/** A message's bytes on the wire (UTF-8). */
export function encodeSse(msg: SseMessage): Uint8Array {
  return encoder.encode(formatSse(msg));
}
