import { render } from "ink";
import type { JobicoClient } from "../client.ts";
import { Dashboard } from "./dashboard.tsx";
import {
  DashboardModel,
  type DashboardModelOptions,
} from "./dashboard_model.ts";

/** Options of {@linkcode runDashboard}. */
export interface RunDashboardOptions
  extends Omit<DashboardModelOptions, "client"> {
  client: JobicoClient;
  /** Colours (off for NO_COLOR). */
  colors: boolean;
  /** Closes the dashboard when aborted (SIGINT from outside). */
  signal?: AbortSignal;
}

/**
 * Runs the dashboard on this process's terminal (the alternate screen, so
 * the shell's screen comes back on quit) until the user quits with q or
 * Ctrl-C, or `signal` aborts.
 */
export async function runDashboard(
  options: RunDashboardOptions,
): Promise<void> {
  const { client, colors, signal, ...modelOptions } = options;
  const model = new DashboardModel({ client, ...modelOptions });
  void model.start();
  const app = render(<Dashboard model={model} colors={colors} />, {
    // Ink turns itself non-interactive when CI is set, drawing only the
    // last frame at exit; a terminal is interactive whatever CI says.
    interactive: true,
    alternateScreen: true,
    exitOnCtrlC: true,
    maxFps: 20,
  });
  const onAbort = () => app.unmount();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await app.waitUntilExit();
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await model.close();
  }
}
