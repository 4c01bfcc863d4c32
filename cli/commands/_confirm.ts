/**
 * How every command that deletes for good makes sure (`tenant delete`,
 * `packages delete`, `files delete`, `queues purge`): `--yes` says so; on a
 * terminal, without it, the command asks and goes on only on `y`; without a
 * terminal (a script, CI) it refuses, exit 2, saying to add `--yes`.
 */
import type { CliContext } from "../cli_context.ts";
import { CliError, UsageError } from "../cli_error.ts";

export interface ConfirmOptions {
  /** What would be deleted, e.g. `tenant acme and everything of it`. */
  what: string;
  /** How to look before deleting, e.g. `Check it with "jobico tenant show acme"`. */
  check: string;
}

/** Resolves when the deletion is confirmed; throws otherwise. */
export async function confirmDelete(
  ctx: CliContext,
  yes: boolean | undefined,
  { what, check }: ConfirmOptions,
): Promise<void> {
  if (yes) return;
  if (!ctx.io.ask) {
    throw new UsageError(`Refusing to delete ${what} without --yes`, {
      hint: `${check}, then run the command again with --yes`,
    });
  }
  const answer = await ctx.io.ask(`Delete ${what}? [y/N] `);
  if (answer === null || !/^y(es)?$/i.test(answer.trim())) {
    throw new CliError(`Nothing deleted: ${what} stays`, {
      hint: "Answer y to delete, or pass --yes",
    });
  }
}
