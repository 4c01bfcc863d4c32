/**
 * Sizes of the code: the files over a line count and the longest functions,
 * measured with Deno's own parser (a `deno lint` plugin,
 * scripts/_size_plugin.ts, reports every function with its length).
 *
 *   deno run --allow-read --allow-write --allow-run scripts/code_sizes.ts [--over 400] [--top 20] [--json]
 *
 * It measures the TypeScript files git tracks (examples/ aside), whole
 * functions including what they nest.
 *
 * @module
 */

/** One function, as the plugin reported it. */
export interface FunctionSize {
  file: string;
  line: number;
  name: string;
  lines: number;
}

/** One file and its line count. */
export interface FileSize {
  file: string;
  lines: number;
}

const root = new URL("../", import.meta.url).pathname;

async function run(args: string[], cwd = root): Promise<string> {
  const out = await new Deno.Command(args[0], {
    args: args.slice(1),
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

/** The TypeScript files git tracks below the root, examples/ aside. */
export async function trackedSources(): Promise<string[]> {
  const listed = await run(["git", "ls-files", "*.ts", "*.tsx"]);
  return listed.split("\n").filter((f) =>
    f !== "" && !f.startsWith("examples/")
  );
}

/** Whether a file is a test or a test helper. */
export function isTest(file: string): boolean {
  return file.startsWith("tests/") || /_test\.tsx?$/.test(file) ||
    /(^|\/)_test_[^/]*$/.test(file);
}

/** The line count of each file. */
export async function fileSizes(files: string[]): Promise<FileSize[]> {
  const sizes: FileSize[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(`${root}${file}`);
    sizes.push({
      file,
      lines: text.split("\n").length - (text.endsWith("\n") ? 1 : 0),
    });
  }
  return sizes.sort((a, b) => b.lines - a.lines);
}

/** Every function of the files, longest first. */
export async function functionSizes(files: string[]): Promise<FunctionSize[]> {
  const dir = await Deno.makeTempDir({ prefix: "code_sizes_" });
  try {
    const config = `${dir}/deno.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        lint: {
          plugins: [`${root}scripts/_size_plugin.ts`],
          rules: { tags: [], include: ["sizes/fn"] },
        },
      }),
    );
    const found: FunctionSize[] = [];
    // A few hundred files at a time keeps the command line short.
    for (let i = 0; i < files.length; i += 200) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "lint",
          "--config",
          config,
          "--json",
          ...files.slice(i, i + 200),
        ],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const report = JSON.parse(new TextDecoder().decode(out.stdout)) as {
        diagnostics: {
          filename: string;
          range: { start: { line: number } };
          message: string;
        }[];
      };
      for (const d of report.diagnostics) {
        const space = d.message.indexOf(" ");
        found.push({
          file: decodeURIComponent(new URL(d.filename).pathname).slice(
            root.length,
          ),
          line: d.range.start.line,
          lines: Number(d.message.slice(0, space)),
          name: d.message.slice(space + 1),
        });
      }
    }
    return found.sort((a, b) => b.lines - a.lines);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  };
  const over = arg("--over", 400);
  const top = arg("--top", 20);
  const files = await trackedSources();
  const sizes = await fileSizes(files);
  const functions = await functionSizes(files);
  const total = sizes.reduce((n, f) => n + f.lines, 0);
  const large = sizes.filter((f) => f.lines > over);
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify(
      {
        files: files.length,
        lines: total,
        over,
        large,
        functions: functions.slice(0, top),
        outsideTests: functions.filter((f) => !isTest(f.file)).slice(0, top),
      },
      null,
      2,
    ));
  } else {
    console.log(`${files.length} files, ${total} lines`);
    console.log(`\n${large.length} files over ${over} lines:`);
    for (const f of large) {
      console.log(`${String(f.lines).padStart(6)}  ${f.file}`);
    }
    const show = (f: FunctionSize) =>
      console.log(
        `${String(f.lines).padStart(6)}  ${f.file}:${f.line}  ${f.name}`,
      );
    console.log(`\nthe ${top} longest functions:`);
    functions.slice(0, top).forEach(show);
    console.log(`\nthe ${top} longest functions outside tests:`);
    functions.filter((f) => !isTest(f.file)).slice(0, top).forEach(show);
  }
}
