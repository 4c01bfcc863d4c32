/**
 * The scheduled events of the current packages: what a scheduler follows,
 * read from every tenant's package heads (tenants being deleted left out).
 */
import type { Logger } from "@jobico/goico";
import type { EventDef } from "../model/job_package.ts";
import { keys } from "../model/keys.ts";
import { queueStorageName } from "../model/queue_ref.ts";
import { type CompiledSchedule, compileSchedule } from "../model/schedule.ts";
import type { Definitions } from "../packages/definitions.ts";
import { declaredEvents, type PackageHead } from "../packages/package_store.ts";

/** One scheduled event as a scheduler knows it. */
export interface ScheduledEvent {
  /** The head of its package when it was read (a tick's write checks it). */
  head: Deno.KvEntry<PackageHead>;
  event: EventDef;
  compiled: CompiledSchedule;
  /** The queue's storage name. */
  queue: string;
  /** The next tick to look at; null when it fires no more (or is not known yet). */
  next: number | null;
}

/**
 * Every event with a `schedule` in a current package, its next tick not
 * known yet. A schedule that cannot be read (checked at deploy: a time zone
 * this runtime lacks) is left out and logged.
 */
export async function readScheduledEvents(
  kv: Deno.Kv,
  definitions: Definitions,
  logger: Logger,
): Promise<ScheduledEvent[]> {
  const out: ScheduledEvent[] = [];
  for await (
    const head of kv.list<PackageHead>({ prefix: keys.allPackageHeads() })
  ) {
    const { tenant, id, version } = head.value;
    if (await definitions.isDeleting(tenant)) continue;
    const v = await definitions.version(tenant, id, version);
    if (!v) continue;
    for (const event of declaredEvents(v.package)) {
      if (!event.schedule) continue;
      let compiled: CompiledSchedule;
      try {
        compiled = compileSchedule(event.schedule);
      } catch (err) {
        logger.warn("a schedule cannot be read", {
          tenant,
          event: event.id,
          error: String(err),
        });
        continue;
      }
      out.push({
        head,
        event,
        compiled,
        queue: queueStorageName({ tenant, queue: event.supplierqueue }),
        next: null,
      });
    }
  }
  return out;
}
