import { Box, Text } from "ink";
import type { DashboardState } from "./dashboard_model.ts";
import { useColor } from "./theme.ts";

const SEPARATOR = " │ ";

/** Props of {@linkcode HeaderBar}. */
export interface HeaderBarProps {
  state: DashboardState;
  width: number;
}

/** The top line: the platform, its health, who is signed in, the streams. */
export function HeaderBar({ state, width }: HeaderBarProps) {
  const color = useColor();
  const status = state.healthError
    ? "down"
    : String(state.health?.status ?? "…");
  const live = state.tenants.filter((t) => t.live).length;
  const tenants = state.tenants.length;
  const version = state.meta ? ` ${state.meta.version}` : "";
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        <Text bold color={color("cyan")}>Jobico{version}</Text>
        <Text dimColor>{SEPARATOR}</Text>
        <Text>{state.url.replace(/^https?:\/\//, "")}</Text>
        <Text dimColor>{SEPARATOR}</Text>
        <Text color={color(status === "ok" ? "green" : "red")}>
          ● {status}
        </Text>
        <Text dimColor>{SEPARATOR}</Text>
        <Text>{state.principal ?? "…"}</Text>
        <Text dimColor>{SEPARATOR}</Text>
        <Text>
          {tenants} tenant{tenants === 1 ? "" : "s"}, {live} live
        </Text>
      </Text>
    </Box>
  );
}
