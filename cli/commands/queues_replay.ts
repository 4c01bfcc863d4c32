import type { Command } from "commander";
import type { ReplayResult } from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";
import type { JobicoClient } from "../client.ts";
import { Progress } from "../progress.ts";
import { positiveInteger } from "./rollback.ts";

/** Dead letters replayed per request (the platform takes up to 1000). */
export const REPLAY_BATCH = 500;

/**
 * `jobico queues replay <tenant> <queue> [ids...]`: puts dead letters back
 * in their queue, in batches, with a progress bar on a terminal.
 */
export function queuesReplayCommand(
  parent: Command,
  ctx: CliContext,
): Command {
  return parent.command("replay")
    .description(
      "Put dead letters back in their queue to run again: those given, or all",
    )
    .argument("<tenant>", "the tenant")
    .argument("<queue>", "the queue id")
    .argument(
      "[ids...]",
      "dead letter ids (see: jobico queues dead); all when none",
    )
    .option(
      "--batch <n>",
      `dead letters per request (at most 1000, default ${REPLAY_BATCH})`,
      positiveInteger,
    )
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Examples:
  jobico queues replay demo greetings
  jobico queues replay demo greetings --json`,
    )
    .action(
      async (
        tenant: string,
        queue: string,
        ids: string[],
        options: { json?: boolean; batch?: number },
        command,
      ) => {
        const client = ctx.client(command);
        const batch = Math.min(options.batch ?? REPLAY_BATCH, 1000);
        const res = ids.length
          ? await replayIds(ctx, client, tenant, queue, ids, batch)
          : await replayAll(ctx, client, tenant, queue, batch);
        if (options.json) return ctx.out.json(res);
        ctx.out.line(
          `Replayed ${res.replayed} dead letter${
            res.replayed === 1 ? "" : "s"
          } of queue ${queue}`,
        );
        if (res.notFound.length > 0) {
          ctx.out.line(
            `Not dead letters of queue ${queue}: ${res.notFound.join(", ")}`,
          );
        }
      },
    );
}

function progress(ctx: CliContext, total: number): Progress {
  return new Progress(ctx.io.stderr, ctx.io.env, {
    label: "Replaying",
    total,
  });
}

async function replayIds(
  ctx: CliContext,
  client: JobicoClient,
  tenant: string,
  queue: string,
  ids: string[],
  batch: number,
): Promise<ReplayResult> {
  const unique = [...new Set(ids)];
  const bar = progress(ctx, unique.length);
  const total: ReplayResult = { replayed: 0, ids: [], notFound: [] };
  try {
    for (let i = 0; i < unique.length; i += batch) {
      const part = unique.slice(i, i + batch);
      add(total, await client.replayDeadLetters(tenant, queue, part));
      bar.add(part.length);
    }
  } finally {
    bar.done();
  }
  return total;
}

/**
 * Every dead letter, a page at a time, oldest first. Dead letters are kept
 * in id order, so one that fails again while this runs lands before the
 * cursor and is not replayed twice.
 */
async function replayAll(
  ctx: CliContext,
  client: JobicoClient,
  tenant: string,
  queue: string,
  batch: number,
): Promise<ReplayResult> {
  const { dead } = await client.getQueue(tenant, queue);
  const bar = progress(ctx, dead);
  const total: ReplayResult = { replayed: 0, ids: [], notFound: [] };
  try {
    let cursor: string | undefined;
    do {
      const page = await client.listDeadLetters(tenant, queue, {
        limit: batch,
        cursor,
      });
      if (page.dead.length === 0) break;
      add(
        total,
        await client.replayDeadLetters(
          tenant,
          queue,
          page.dead.map((d) => d.id),
        ),
      );
      bar.update(total.replayed + total.notFound.length);
      cursor = page.cursor ?? undefined;
    } while (cursor);
  } finally {
    bar.done();
  }
  return total;
}

function add(total: ReplayResult, res: ReplayResult): void {
  total.replayed += res.replayed;
  total.ids.push(...res.ids);
  total.notFound.push(...res.notFound);
}
