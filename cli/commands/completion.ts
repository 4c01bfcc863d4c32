import { Argument, type Command } from "commander";
import type { CliContext } from "../cli_context.ts";
import { bashCompletion, zshCompletion } from "../completion.ts";

/**
 * `jobico completion bash|zsh`: prints a completion script made from the
 * program's own command tree.
 */
export function completionCommand(parent: Command, ctx: CliContext): Command {
  return parent.command("completion")
    .description("Print a shell completion script for bash or zsh")
    .addArgument(
      new Argument("<shell>", "the shell").choices(["bash", "zsh"]),
    )
    .addHelpText(
      "after",
      `
Examples:
  source <(jobico completion bash)     # bash, this shell only
  jobico completion bash > ~/.local/share/bash-completion/completions/jobico
  source <(jobico completion zsh)      # zsh (after compinit), this shell only
  jobico completion zsh > "\${fpath[1]}/_jobico"`,
    )
    .action((shell: "bash" | "zsh") => {
      let program = parent;
      while (program.parent) program = program.parent;
      ctx.out.write(
        shell === "bash" ? bashCompletion(program) : zshCompletion(program),
      );
    });
}
