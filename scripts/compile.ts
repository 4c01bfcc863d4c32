/**
 * `deno task compile`: one `jobico` executable (dist/jobico) holding the
 * platform (`jobico serve`), the CLI and the dashboard, built with
 * `deno compile` from cli/main.ts. The Workers' modules (the sandbox's, the
 * upload checks') are loaded by URL at run time, so they are named with
 * --include; nothing else is read from
 * disk (npm packages are embedded, examples are not needed).
 *
 * `deno compile` needs Deno's `denort` runtime for the target, which it
 * downloads from dl.deno.land unless DENORT_BIN names a local copy. Where
 * that host cannot be reached this script says so and exits 1.
 *
 *   deno task compile [--target x86_64-unknown-linux-gnu] [--output dist/jobico]
 */
const root = new URL("../", import.meta.url).pathname;

export function compileArgs(
  output = "dist/jobico",
  target?: string,
): string[] {
  return [
    "compile",
    "--config",
    `${root}deno.json`,
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys=hostname,osRelease",
    // jobico serve reads (and raises) its file descriptor limit: goico/fd_limit.ts
    "--allow-ffi",
    "--include",
    `${root}goico/_wasm_worker.ts`,
    "--include",
    `${root}components/repo/_upload_check_worker.ts`,
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    `${root}cli/main.ts`,
  ];
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const output = arg("--output") ?? `${root}dist/jobico`;
  const args = compileArgs(output, arg("--target"));
  console.error(`deno ${args.join(" ")}`);
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  await Deno.stderr.write(out.stderr);
  if (!out.success) {
    if (/dl\.deno\.land|denort/.test(err)) {
      const version = Deno.version.deno;
      console.error(
        `\ndeno task compile: \`deno compile\` could not get Deno's runtime (denort ${version}) ` +
          "from dl.deno.land, which this machine cannot reach. The steps before it passed " +
          "(the module graph and its npm packages resolved and type-checked): on a machine " +
          "with internet access the same command builds dist/jobico, or set " +
          `DENORT_BIN to a denort ${version} binary for this platform ` +
          `(https://dl.deno.land/release/v${version}/denort-<target>.zip) and run it again.`,
      );
    }
    Deno.exit(1);
  }
  console.error(
    `built ${output}: try \`${output} --help\`, \`${output} serve\`, \`${output} dashboard\``,
  );
}
