import { type Line, wrapLines } from "./styled_text.ts";

/**
 * The first visible item of a list `height` items tall, moved as little as
 * possible from `top` so that `cursor` is visible.
 */
export function keepInView(
  top: number,
  cursor: number,
  height: number,
  total: number,
): number {
  if (height <= 0) return 0;
  let next = top;
  if (cursor < next) next = cursor;
  if (cursor >= next + height) next = cursor - height + 1;
  return Math.max(0, Math.min(next, total - height));
}

/** `n` kept within `[0, max]` (0 when `max` is negative). */
export function clamp(n: number, max: number): number {
  return Math.max(0, Math.min(n, max));
}

/** How far a pane of styled lines can scroll once they are wrapped to `width`. */
export function maxScroll(
  lines: Line[],
  width: number,
  height: number,
): number {
  return Math.max(0, wrapLines(lines, width).length - height);
}
