/**
 * Rebuilds the example Jobicolets from their sources:
 *
 * - examples/greet/greet.c  -> examples/greet/greet.wasm (clang, wasi-libc; ABI ver 0)
 * - examples/greet/audit.ts -> examples/greet/audit.wasm (AssemblyScript; ABI ver 1)
 * - examples/rust/hello.rs  -> examples/rust/hello.wasm (Debian's rustc, no crates; ABI ver 1)
 *
 * Run it with `deno task examples`. The output is deterministic: building
 * twice gives identical bytes (the SHA-256 of each module is printed).
 *
 * clang, wasm-ld, Debian's wasi-libc, and Debian's rustc with its wasm32
 * standard library (/usr/bin/rustc: the same compiler gives the same
 * bytes) are needed. When one is missing and
 * the script runs as root it installs them with apt-get; otherwise it says
 * what to install and exits 1. AssemblyScript's compiler runs in a process
 * of its own, pinned with its own lockfile (scripts/dev_tools.ts).
 */
import { DEV_TOOLS, devToolArgs } from "./dev_tools.ts";

const ROOT = new URL("../", import.meta.url);
const GREET_DIR = new URL("examples/greet/", ROOT);
const RUST_DIR = new URL("examples/rust/", ROOT);

/** Debian's rustc (package `rustc`) and its wasm32 std (`libstd-rust-dev-wasm32`). */
const RUSTC = "/usr/bin/rustc";
const RUST_WASM_STD = "/usr/lib/rustlib/wasm32-unknown-unknown";

/** Debian's wasi-libc layout (package `wasi-libc`). */
const WASI_INCLUDE = "/usr/include/wasm32-wasi";
const WASI_LIB = "/usr/lib/wasm32-wasi";
const APT_PACKAGES = [
  "clang",
  "lld",
  "wasi-libc",
  "rustc",
  "libstd-rust-dev-wasm32",
];

/**
 * The clang command line for greet.wasm. `-nostartfiles` because greet.c
 * defines its own `_start` (it runs the constructors and returns, without
 * calling main or proc_exit); `-nodefaultlibs -lc` links wasi-libc without
 * compiler-rt's builtins, which Debian ships separately and nothing here needs.
 */
export const CLANG_FLAGS = [
  "--target=wasm32-wasi",
  "-nostdlibinc",
  "-isystem",
  WASI_INCLUDE,
  "-L" + WASI_LIB,
  "-std=c11",
  "-O2",
  "-Wall",
  "-Wextra",
  "-nostartfiles",
  "-nodefaultlibs",
  "-Wl,--no-entry",
  "-Wl,--export=malloc",
  "-Wl,--export=free",
  "-Wl,--strip-all",
];

/**
 * The rustc command line for hello.wasm (run in examples/rust, so that the
 * one path it keeps, the source's, is the same everywhere): a cdylib for
 * wasm32-unknown-unknown exports its memory and its `#[no_mangle]`
 * functions; no crates, std from Debian's package.
 */
export const RUSTC_FLAGS = [
  "--target",
  "wasm32-unknown-unknown",
  "--crate-type",
  "cdylib",
  "--edition",
  "2021",
  "-C",
  "opt-level=s",
  "-C",
  "panic=abort",
  "-C",
  "strip=symbols",
];

/** The asc command line for audit.wasm (relative to examples/greet). */
export const ASC_FLAGS = [
  "--runtime",
  "stub",
  "-O3",
  "--noAssert",
  // Route `abort` to the module's own trapping function: no env.abort import.
  "--use",
  "abort=audit/abortHandler",
];

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; quiet?: boolean; env?: Record<string, string> } = {},
): Promise<{ ok: boolean; out: string }> {
  try {
    const res = await new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: opts.env,
      stdout: opts.quiet ? "piped" : "inherit",
      stderr: opts.quiet ? "piped" : "inherit",
    }).output();
    const out = opts.quiet ? new TextDecoder().decode(res.stdout).trim() : "";
    return { ok: res.success, out };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { ok: false, out: "" };
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** What of clang, wasm-ld and wasi-libc is missing. */
async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  if (!(await run("clang", ["--version"], { quiet: true })).ok) {
    missing.push("clang");
  }
  if (!(await run("wasm-ld", ["--version"], { quiet: true })).ok) {
    missing.push("wasm-ld (package lld)");
  }
  if (
    !(await exists(`${WASI_LIB}/libc.a`)) ||
    !(await exists(`${WASI_INCLUDE}/stdio.h`))
  ) {
    missing.push(`wasi-libc (${WASI_LIB}, ${WASI_INCLUDE})`);
  }
  if (!(await run(RUSTC, ["--version"], { quiet: true })).ok) {
    missing.push(`Debian's rustc (${RUSTC}, package rustc)`);
  }
  if (!(await exists(`${RUST_WASM_STD}/lib`))) {
    missing.push(
      `Rust's wasm32 standard library (${RUST_WASM_STD}, package libstd-rust-dev-wasm32)`,
    );
  }
  return missing;
}

async function isRoot(): Promise<boolean> {
  const id = await run("id", ["-u"], { quiet: true });
  return id.ok && id.out === "0";
}

async function ensureToolchain(): Promise<void> {
  const missing = await missingTools();
  if (missing.length === 0) return;
  const install = `apt-get update && apt-get install -y ${
    APT_PACKAGES.join(" ")
  }`;
  if (!(await isRoot())) {
    console.error(
      `build_examples: missing ${missing.join(", ")}.\n` +
        `Install them (Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y ${
          APT_PACKAGES.join(" ")
        }) and run again.`,
    );
    Deno.exit(1);
  }
  console.log(
    `build_examples: missing ${missing.join(", ")}; running ${install}`,
  );
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const ok = (await run("apt-get", ["update"], { env })).ok &&
    (await run("apt-get", ["install", "-y", ...APT_PACKAGES], { env })).ok;
  const still = await missingTools();
  if (!ok || still.length > 0) {
    console.error(
      `build_examples: could not install the toolchain (still missing: ${
        still.join(", ") || "none"
      }).`,
    );
    Deno.exit(1);
  }
}

/** Fails unless the module has exactly these exports and imports. */
function checkModule(
  name: string,
  bytes: Uint8Array,
  wantExports: string[],
  wantImports: (imp: WebAssembly.ModuleImportDescriptor) => boolean,
): void {
  const mod = new WebAssembly.Module(bytes as BufferSource);
  const exports = WebAssembly.Module.exports(mod).map((e) => e.name).sort();
  const want = [...wantExports].sort();
  if (exports.join(",") !== want.join(",")) {
    throw new Error(
      `${name}: exports are ${exports.join(", ")}; want ${want.join(", ")}`,
    );
  }
  for (const imp of WebAssembly.Module.imports(mod)) {
    if (!wantImports(imp)) {
      throw new Error(`${name}: unexpected import ${imp.module}.${imp.name}`);
    }
  }
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

async function report(file: URL, bytes: Uint8Array): Promise<void> {
  const rel = file.pathname.slice(ROOT.pathname.length);
  console.log(`${rel}: ${bytes.length} bytes, sha256 ${await sha256(bytes)}`);
}

async function buildGreet(): Promise<void> {
  const out = new URL("greet.wasm", GREET_DIR);
  const tmp = new URL("greet.wasm.tmp", GREET_DIR);
  const args = [...CLANG_FLAGS, "-o", "greet.wasm.tmp", "greet.c", "-lc"];
  console.log(`clang ${args.join(" ")}`);
  const res = await run("clang", args, { cwd: GREET_DIR.pathname });
  if (!res.ok) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error("clang failed");
  }
  const bytes = await Deno.readFile(tmp);
  await Deno.remove(tmp);
  checkModule(
    "greet.wasm",
    bytes,
    ["memory", "malloc", "free", "_start", "init", "ver", "event"],
    (imp) =>
      (imp.module === "env" && imp.name === "log") ||
      imp.module === "wasi_snapshot_preview1",
  );
  await Deno.writeFile(out, bytes);
  await report(out, bytes);
}

async function buildAudit(): Promise<void> {
  const out = new URL("audit.wasm", GREET_DIR);
  // The binary is written aside: it is checked before it replaces the old one.
  const tmp = await Deno.makeTempDir({ prefix: "jobico-asc-" });
  try {
    const args = [
      "audit.ts",
      "--baseDir",
      GREET_DIR.pathname,
      ...ASC_FLAGS,
      "--outFile",
      `${tmp}/audit.wasm`,
    ];
    console.log(`asc ${args.join(" ")}`);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: devToolArgs(
        DEV_TOOLS.asc,
        [
          // asc reads CI and the like to decide on colours.
          "--allow-env",
          `--allow-read=${GREET_DIR.pathname},${tmp}`,
          `--allow-write=${tmp}`,
        ],
        args,
      ),
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) throw new Error(`asc failed (exit code ${code})`);
    const wasm = await Deno.readFile(`${tmp}/audit.wasm`);
    checkModule(
      "audit.wasm",
      wasm,
      ["memory", "malloc", "free", "init", "ver", "event"],
      (imp) => imp.module === "env" && imp.name === "log",
    );
    await Deno.writeFile(out, wasm);
    await report(out, wasm);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

async function buildHello(): Promise<void> {
  const out = new URL("hello.wasm", RUST_DIR);
  const tmp = await Deno.makeTempDir({ prefix: "jobico-rustc-" });
  try {
    const args = [...RUSTC_FLAGS, "-o", `${tmp}/hello.wasm`, "hello.rs"];
    console.log(`rustc ${args.join(" ")}`);
    const res = await run(RUSTC, args, { cwd: RUST_DIR.pathname });
    if (!res.ok) throw new Error("rustc failed");
    const bytes = await Deno.readFile(`${tmp}/hello.wasm`);
    checkModule(
      "hello.wasm",
      bytes,
      // rustc also exports where its data ends and its heap starts.
      [
        "memory",
        "malloc",
        "free",
        "init",
        "ver",
        "event",
        "__data_end",
        "__heap_base",
      ],
      (imp) => imp.module === "env" && imp.name === "log",
    );
    await Deno.writeFile(out, bytes);
    await report(out, bytes);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  await ensureToolchain();
  await buildGreet();
  await buildAudit();
  await buildHello();
}
