import { StyledLines } from "./styled_lines.tsx";
import { type Line, wrapLines } from "./styled_text.ts";

/** Props of {@linkcode DetailPane}. */
export interface DetailPaneProps {
  /** Unwrapped lines; the pane wraps them to its width. */
  lines: Line[];
  /** The first visible (wrapped) line; clamped. */
  scroll: number;
  width: number;
  height: number;
}

/** The selected node's details, wrapped and scrolled. */
export function DetailPane({ lines, scroll, width, height }: DetailPaneProps) {
  const wrapped = wrapLines(lines, width);
  const top = Math.max(0, Math.min(scroll, wrapped.length - height));
  return (
    <StyledLines
      lines={wrapped.slice(top, top + height)}
      width={width}
      height={height}
    />
  );
}
