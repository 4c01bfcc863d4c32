import type { Execution } from "../api_types.ts";
import { formatOutcome } from "../output.ts";

/** Executions whose status, tenant, package, event or outcome contain `filter`. */
export function filterExecutions(
  executions: Execution[],
  filter: string,
): Execution[] {
  const needle = filter.trim().toLowerCase();
  if (!needle) return executions;
  return executions.filter((e) =>
    `${e.status} ${e.tenant}/${e.package}/${e.event} ${formatOutcome(e, 200)}`
      .toLowerCase().includes(needle)
  );
}
