import { useRef } from "react";
import type { Execution } from "../api_types.ts";
import { formatDuration, formatOutcome } from "../output.ts";
import { keepInView } from "./scroll.ts";
import { StyledLines } from "./styled_lines.tsx";
import { fit, type Line, seg, statusColor } from "./styled_text.ts";

/** Props of {@linkcode ExecutionsPane}. */
export interface ExecutionsPaneProps {
  /** Newest first, already filtered. */
  executions: Execution[];
  cursor: number;
  focused: boolean;
  /** Inside the border. */
  width: number;
  height: number;
  /** Shown when there is nothing yet. */
  empty: string;
}

/** The live list of executions, coloured by status. */
export function ExecutionsPane(
  { executions, cursor, focused, width, height, empty }: ExecutionsPaneProps,
) {
  const top = useRef(0);
  top.current = keepInView(top.current, cursor, height, executions.length);
  const lines = executions.slice(top.current, top.current + height).map((e) =>
    executionRow(e, width)
  );
  if (executions.length === 0) {
    lines.push([seg(empty, undefined, { dim: true })]);
  }
  return (
    <StyledLines
      lines={lines}
      width={width}
      height={height}
      highlight={focused ? cursor - top.current : undefined}
    />
  );
}

/**
 * `23:36:50  ok      demo/greet           3ms  {"greeting":"Hello, Ada!"}`:
 * when, status, tenant/event, duration, then the result or error.
 */
export function executionRow(e: Execution, width: number): Line {
  const where = fit(`${e.tenant}/${e.event}`, Math.min(22, width >> 2) + 4);
  const outcomeWidth = Math.max(0, width - 8 - 2 - 6 - 1 - where.length - 7);
  return [
    seg(clock(e.startedAt), undefined, { dim: true }),
    seg("  "),
    seg(fit(e.status, 6), statusColor(e.status), { bold: true }),
    seg(" "),
    seg(where),
    seg(formatDuration(e.durationMs).padStart(6) + " ", undefined, {
      dim: true,
    }),
    seg(
      formatOutcome(e, Math.max(1, outcomeWidth)),
      e.error ? "red" : undefined,
    ),
  ];
}

function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return fit(iso, 8);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
