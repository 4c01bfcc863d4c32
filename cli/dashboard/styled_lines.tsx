import { Box, Text } from "ink";
import type { Line } from "./styled_text.ts";
import { useColor } from "./theme.ts";
import { terminalText } from "../terminal_text.ts";

/** Props of {@linkcode StyledLines}. */
export interface StyledLinesProps {
  lines: Line[];
  /** Lines are cut to this width. */
  width: number;
  /** Pads with blank lines to this height. */
  height?: number;
  /** The index of a line drawn in reverse video (a cursor). */
  highlight?: number;
}

/**
 * Lines of coloured segments, one screen row each. Their text is shown
 * through `terminalText`: much of it is what tenants wrote (results, logs).
 */
export function StyledLines(
  { lines, width, height, highlight }: StyledLinesProps,
) {
  const color = useColor();
  const rows = height === undefined ? lines : [
    ...lines.slice(0, height),
    ...Array(Math.max(0, height - lines.length))
      .fill([]),
  ];
  return (
    <Box flexDirection="column" width={width} height={height}>
      {rows.map((line: Line, i: number) => (
        <Text key={i} wrap="truncate-end" inverse={i === highlight}>
          {line.length === 0 ? " " : line.map((s, j) => (
            <Text
              key={j}
              color={color(s.color)}
              bold={s.bold}
              dimColor={s.dim}
            >
              {terminalText(s.text)}
            </Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}
