/**
 * The import rules of docs/architecture.md, checked on the module graph
 * (`deno info --json` over every module git tracks, examples/ aside, so
 * type-only and dynamic imports count too):
 *
 * 1. goico imports only goico (and npm:/node: packages): no Jobico word, no
 *    test helper of the project.
 * 2. Outside goico, goico is reached by its package name (`@jobico/goico`,
 *    `@jobico/goico/testing`) and so only through what it exports: never a
 *    path into goico/ (its `_x.ts` helpers stay private).
 * 3. components import neither cli/, bench/, scripts/ nor the entry points
 *    at the root (their tests may use tests/'s helpers and WAT Jobicolets).
 * 4. cli imports neither tests/ (its tests may), bench/ nor scripts/.
 * 5. Code that ships (goico, components, cli, the root's entry points)
 *    imports no test code: `*_test.ts`, `_test_*.ts`, tests/.
 * 6. components/model (what Jobico's data is) imports only itself and
 *    goico: every other folder may build on it, it builds on none of them.
 * 7. api/ (the API's schemas, limits and types: one source for the server's
 *    document, checks and answers and for the CLI) imports only itself,
 *    npm packages (TypeBox) and the model's name patterns
 *    (components/model/keys.ts).
 * 8. The CLI's view of the API (cli/api_types.ts) imports only api/: the
 *    CLI and the server share the API's schemas and types, not each
 *    other's.
 */
import assert from "node:assert/strict";

/** One import: who imports what (paths from the root; packages by specifier). */
export interface ImportEdge {
  /** The importing module, from the root (`components/platform.ts`). */
  from: string;
  /** The imported module from the root, or `npm:...`, `node:...`. */
  to: string;
  /** The specifier as written. */
  specifier: string;
}

const ROOT = new URL("../", import.meta.url);

/** Whether a module is test code: a test, a test helper, anything in tests/. */
function isTestCode(path: string): boolean {
  return path.startsWith("tests/") || /_test\.tsx?$/.test(path) ||
    /(^|\/)_test_[^/]*$/.test(path);
}

/** The top folder of a path from the root ("" for a file at the root). */
function area(path: string): string {
  const slash = path.indexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/** goico's entry points: what its deno.json exports. */
const GOICO_EXPORTS: Record<string, string> = {
  "@jobico/goico": "goico/mod.ts",
  "@jobico/goico/testing": "goico/testing.ts",
};

/** Every breach of the rules among `edges`, one line each. */
export function ruleBreaches(edges: ImportEdge[]): string[] {
  const out: string[] = [];
  for (const { from, to, specifier } of edges) {
    const at = `${from} imports ${specifier}`;
    const external = /^(npm|node|jsr|data|https?):/.test(to);
    if (to.startsWith("unresolved:")) {
      out.push(`${at}: it does not resolve (${to.slice(11)})`);
      continue;
    }
    if (external) continue;
    const a = area(from);
    const b = area(to);
    if (a === "goico" && b !== "goico") {
      out.push(`${at}: goico imports only goico (rule 1)`);
    }
    if (a !== "goico" && b === "goico" && GOICO_EXPORTS[specifier] !== to) {
      out.push(
        `${at}: outside goico, import "@jobico/goico" (or its ./testing) only (rule 2)`,
      );
    }
    if (
      a === "components" &&
      (["cli", "bench", "scripts", "examples"].includes(b) ||
        (b === "" && to !== "deno.json"))
    ) {
      out.push(`${at}: components import no ${b || to} (rule 3)`);
    }
    if (
      a === "cli" && (["bench", "scripts"].includes(b) ||
        (b === "tests" && !isTestCode(from)))
    ) {
      out.push(`${at}: the CLI imports no ${b}/ (rule 4)`);
    }
    if (
      from.startsWith("components/model/") && !isTestCode(from) &&
      !to.startsWith("components/model/") && b !== "goico"
    ) {
      out.push(`${at}: the model imports only the model and goico (rule 6)`);
    }
    if (
      a === "api" && !isTestCode(from) && b !== "api" &&
      to !== "components/model/keys.ts"
    ) {
      out.push(
        `${at}: api/ imports only api/, TypeBox and the model's names (rule 7)`,
      );
    }
    if (from === "cli/api_types.ts" && b !== "api") {
      out.push(`${at}: the CLI's API types come from api/ only (rule 8)`);
    }
    const ships = ["goico", "components", "cli", "api", ""].includes(a);
    if (ships && !isTestCode(from) && isTestCode(to)) {
      out.push(`${at}: code that ships imports no test code (rule 5)`);
    }
  }
  return out;
}

/** The imports of every module git tracks (examples/ aside), from the module graph. */
export async function importEdges(root: URL = ROOT): Promise<ImportEdge[]> {
  const git = await new Deno.Command("git", {
    args: ["ls-files", "*.ts", "*.tsx"],
    cwd: root,
    stdout: "piped",
  }).output();
  const files = new TextDecoder().decode(git.stdout).split("\n")
    .filter((f) => f !== "" && !f.startsWith("examples/"));
  const dir = await Deno.makeTempDir({ prefix: "import_rules_" });
  try {
    const all = `${dir}/all.ts`;
    await Deno.writeTextFile(
      all,
      files.map((f) => `import "${new URL(f, root).href}";\n`).join(""),
    );
    const info = await new Deno.Command(Deno.execPath(), {
      args: [
        "info",
        "--json",
        "--config",
        new URL("deno.json", root).pathname,
        all,
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(info.success, new TextDecoder().decode(info.stderr));
    const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
      modules: {
        specifier: string;
        dependencies?: {
          specifier: string;
          code?: { specifier?: string; error?: string };
          type?: { specifier?: string; error?: string };
        }[];
      }[];
    };
    const local = (url: string) =>
      url.startsWith(root.href) ? url.slice(root.href.length) : url;
    const edges: ImportEdge[] = [];
    for (const m of graph.modules) {
      if (!m.specifier.startsWith(root.href)) continue;
      for (const d of m.dependencies ?? []) {
        for (const r of [d.code, d.type]) {
          if (!r) continue;
          edges.push({
            from: local(m.specifier),
            to: r.specifier ? local(r.specifier) : `unresolved:${r.error}`,
            specifier: d.specifier,
          });
        }
      }
    }
    return edges;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("import rules: the module graph keeps them", async () => {
  const edges = await importEdges();
  // The graph was read: goico, components and the CLI are in it.
  for (const a of ["goico/", "components/", "cli/", "tests/", "api/"]) {
    assert.ok(edges.some((e) => e.from.startsWith(a)), `no module of ${a}`);
  }
  assert.ok(
    edges.some((e) =>
      e.from.startsWith("components/") && e.specifier === "@jobico/goico"
    ),
    "components reach goico by its name",
  );
  assert.deepEqual(ruleBreaches(edges), []);
});

Deno.test("import rules: each breach is caught, and what the rules allow passes", () => {
  const edge = (from: string, to: string, specifier = to): ImportEdge => ({
    from,
    to,
    specifier,
  });
  const breaches = [
    // 1: goico reaching out, a test of goico included.
    edge(
      "goico/wasm_pool.ts",
      "components/model/keys.ts",
      "../components/model/keys.ts",
    ),
    edge(
      "goico/fuel_meter_test.ts",
      "tests/jobicolets/compile_wat.ts",
      "../tests/jobicolets/compile_wat.ts",
    ),
    edge("goico/mod.ts", "deno.json", "../deno.json"),
    // 2: a goico internal, by path or by a subpath the package does not export.
    edge(
      "bench/_http_front.ts",
      "goico/guarded_server.ts",
      "../goico/guarded_server.ts",
    ),
    edge("components/platform.ts", "goico/mod.ts", "../goico/mod.ts"),
    edge(
      "tests/e2e_test.ts",
      "goico/_wasm_worker.ts",
      "../goico/_wasm_worker.ts",
    ),
    edge(
      "components/platform.ts",
      "unresolved:Unknown export './durable_queue.ts' for '@jobico/goico'.",
      "@jobico/goico/durable_queue.ts",
    ),
    // 3: components reaching the CLI, benchmarks, the entry points (their
    // tests too), and tests/ from shipped code (5).
    edge("components/platform.ts", "cli/output.ts", "../cli/output.ts"),
    edge(
      "components/executor/executor_test.ts",
      "cli/output.ts",
      "../../cli/output.ts",
    ),
    edge(
      "components/executor/executor.ts",
      "tests/_harness.ts",
      "../../tests/_harness.ts",
    ),
    edge(
      "components/listener/listener.ts",
      "bench/_load.ts",
      "../../bench/_load.ts",
    ),
    edge("components/server/run_server.ts", "main.ts", "../../main.ts"),
    // 4: the CLI's own code reaching tests/ or scripts/.
    edge("cli/main.ts", "tests/_harness.ts", "../tests/_harness.ts"),
    edge(
      "cli/commands/serve.ts",
      "scripts/compile.ts",
      "../../scripts/compile.ts",
    ),
    // 6: the model reaching a component.
    edge(
      "components/model/parse_package.ts",
      "components/repo/describe_schema_error.ts",
      "../repo/describe_schema_error.ts",
    ),
    // 7: the API's schemas reaching a component or the CLI.
    edge(
      "api/package_schemas.ts",
      "components/model/job_package.ts",
      "../components/model/job_package.ts",
    ),
    edge("api/names.ts", "cli/output.ts", "../cli/output.ts"),
    // 8: the CLI's API types reaching the server's.
    edge(
      "cli/api_types.ts",
      "components/executions/execution.ts",
      "../components/executions/execution.ts",
    ),
    // 5: shipped code reaching a test helper.
    edge(
      "components/platform.ts",
      "components/server/_test_platform.ts",
      "./server/_test_platform.ts",
    ),
    edge(
      "main.ts",
      "components/model/parse_package_test.ts",
      "./components/model/parse_package_test.ts",
    ),
  ];
  for (const e of breaches) {
    assert.equal(ruleBreaches([e]).length > 0, true, `${e.from} -> ${e.to}`);
  }
  const allowed = [
    edge(
      "components/model/parse_package.ts",
      "components/model/_yaml_positions.ts",
      "./_yaml_positions.ts",
    ),
    edge("components/model/keys.ts", "goico/mod.ts", "@jobico/goico"),
    edge("components/platform.ts", "goico/mod.ts", "@jobico/goico"),
    edge(
      "tests/jobicolets/compile_wat.ts",
      "goico/testing.ts",
      "@jobico/goico/testing",
    ),
    edge("goico/wasm_pool_test.ts", "goico/_test_wat.ts", "./_test_wat.ts"),
    edge("goico/wasm_pool.ts", "npm:hono@4.13.19", "hono"),
    edge("goico/mod_test.ts", "node:assert/strict", "node:assert/strict"),
    edge("components/version.ts", "deno.json", "../deno.json"),
    edge(
      "components/http/known_tenant_test.ts",
      "components/server/_test_platform.ts",
      "../server/_test_platform.ts",
    ),
    edge(
      "components/repo/file_repo_test.ts",
      "tests/jobicolets/compile_wat.ts",
      "../../tests/jobicolets/compile_wat.ts",
    ),
    edge(
      "cli/commands/deploy_wait_test.ts",
      "tests/_harness.ts",
      "../../tests/_harness.ts",
    ),
    edge(
      "cli/local_platform.ts",
      "components/server/admin_token.ts",
      "../components/server/admin_token.ts",
    ),
    edge(
      "tests/fuzz_test.ts",
      "components/model/queue_ref.ts",
      "../components/model/queue_ref.ts",
    ),
    edge(
      "api/names.ts",
      "components/model/keys.ts",
      "../components/model/keys.ts",
    ),
    edge("api/names.ts", "npm:@sinclair/typebox@0.34.52", "@sinclair/typebox"),
    edge("components/ctl/queue_routes.ts", "api/mod.ts", "../../api/mod.ts"),
    edge(
      "bench/_bench_package.ts",
      "tests/jobicolets/compile_wat.ts",
      "../tests/jobicolets/compile_wat.ts",
    ),
  ];
  assert.deepEqual(ruleBreaches(allowed), []);
});
