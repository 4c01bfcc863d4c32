import { Box, Text } from "ink";
import { useColor } from "./theme.ts";
import { terminalText } from "../terminal_text.ts";

/** Props of {@linkcode KeyBar}. */
export interface KeyBarProps {
  width: number;
  /** The pane whose filter is being typed, if one is. */
  editing?: "tree" | "executions";
  /** The filter of that pane (or of the focused pane). */
  filter: string;
  /** A message that replaces the key help (an error). */
  message?: string;
  /** What the last action did, shown after the keys (red when it failed). */
  notice?: { text: string; ok: boolean };
  /** Keys of what is selected (`x` cancel, `R` re-run), after the others. */
  extra?: [key: string, what: string][];
}

const KEYS: [string, string][] = [
  ["↑↓", "move"],
  ["←→", "fold"],
  ["tab", "pane"],
  ["enter", "open"],
  ["/", "filter"],
  ["r", "refresh"],
  ["q", "quit"],
];

const CURSOR = " ";
const EDIT_HELP = "  enter keeps it, esc clears it";

/** The bottom line: the keys, or the filter being typed. */
export function KeyBar(
  { width, editing, filter, message, notice, extra = [] }: KeyBarProps,
) {
  const color = useColor();
  if (editing) {
    return (
      <Box width={width}>
        <Text wrap="truncate-end">
          <Text bold color={color("cyan")}>/</Text>
          <Text>{` filter ${editing}: `}</Text>
          <Text bold>{filter}</Text>
          <Text inverse>{CURSOR}</Text>
          <Text dimColor>{EDIT_HELP}</Text>
        </Text>
      </Box>
    );
  }
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        {message
          ? <Text color={color("red")}>{message}</Text>
          : [...KEYS, ...extra].map(([key, what]) => (
            <Text key={key}>
              <Text bold>{` ${key}`}</Text>
              <Text dimColor>{` ${what} `}</Text>
            </Text>
          ))}
        {filter && !message
          ? <Text color={color("yellow")}>{` filter: ${filter}`}</Text>
          : null}
        {notice && !message
          ? (
            <Text color={color(notice.ok ? "green" : "red")}>
              {` ${terminalText(notice.text)}`}
            </Text>
          )
          : null}
      </Text>
    </Box>
  );
}
