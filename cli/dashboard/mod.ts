/**
 * `jobico dashboard`: a terminal UI built with ink (React for terminals).
 *
 * @module
 */
export { Dashboard, type DashboardProps } from "./dashboard.tsx";
export {
  DashboardModel,
  type DashboardModelOptions,
  type DashboardState,
} from "./dashboard_model.ts";
export { runDashboard, type RunDashboardOptions } from "./run_dashboard.tsx";
