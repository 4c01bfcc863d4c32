import { Box, Text } from "ink";
import type { ReactNode } from "react";
import { fit } from "./styled_text.ts";
import { useColor } from "./theme.ts";

/** Props of {@linkcode Panel}. */
export interface PanelProps {
  title: string;
  /** Dim text at the right of the top border. */
  note?: string;
  width: number;
  height: number;
  focused: boolean;
  children?: ReactNode;
}

/**
 * A pane with a rounded border and its title in the top border; the border
 * is cyan when the pane has the keyboard.
 */
export function Panel(
  { title, note = "", width, height, focused, children }: PanelProps,
) {
  const color = useColor();
  const border = color(focused ? "cyan" : "gray");
  const room = Math.max(0, width - 5);
  const noteText = note && room > title.length + 4
    ? ` ${note.slice(0, room - title.length - 4)} `
    : "";
  const label = ` ${
    fit(title, Math.max(1, room - noteText.length - 2)).trimEnd()
  } `;
  const fill = Math.max(0, width - 4 - label.length - noteText.length);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text wrap="truncate-end">
        <Text color={border}>╭─</Text>
        <Text bold={focused} color={color(focused ? "cyan" : undefined)}>
          {label}
        </Text>
        <Text color={border}>{"─".repeat(fill)}</Text>
        <Text dimColor>{noteText}</Text>
        <Text color={border}>─╮</Text>
      </Text>
      <Box
        borderStyle="round"
        borderTop={false}
        borderColor={border}
        width={width}
        height={height - 1}
        flexDirection="column"
        overflow="hidden"
      >
        {children}
      </Box>
    </Box>
  );
}
