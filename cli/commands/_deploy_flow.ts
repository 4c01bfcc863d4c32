/**
 * What `deploy` and `redeploy` share: read the package and the files to
 * upload, check the package against the server (a dry run), upload, deploy.
 */
import type { Command } from "commander";
import { ApiError } from "../api_error.ts";
import type {
  ChainWarning,
  DeployResult,
  FileInfo,
  FileKind,
  PendingFile,
} from "../api_types.ts";
import type { CliContext } from "../cli_context.ts";
import { CliError, UsageError } from "../cli_error.ts";
import type { JobicoClient } from "../client.ts";
import { sha256Hex } from "../module_info.ts";
import { formatBytes, Progress } from "../progress.ts";
import { basename } from "./_upload_file.ts";
import { printPlan, type UploadPlan } from "./_print_plan.ts";
import {
  describeWait,
  waitForDefinitions,
  type WaitOptions,
  waitOptions,
  wantsWait,
} from "./_wait_for_definitions.ts";

/** The options of `deploy` and `redeploy`. */
export interface DeployOptions extends WaitOptions {
  config?: string;
  wasm?: string[];
  schema?: string[];
  dryRun?: boolean;
  /** A new version even when nothing changed. */
  force?: boolean;
  json?: boolean;
}

/** Adds the options of `deploy` and `redeploy` to a command. */
export function deployOptions(command: Command): Command {
  const collect = (value: string, previous: string[] | undefined) => [
    ...previous ?? [],
    value,
  ];
  return waitOptions(
    command
      .argument(
        "<package>",
        "the package id (with --config), or the package YAML file",
      )
      .option("--config <file>", "the package YAML (then <package> is its id)")
      .option(
        "--wasm <file>",
        "upload a WebAssembly module first, under its file name (repeatable)",
        collect,
      )
      .option(
        "--schema <file>",
        "upload a JSON Schema first, under its file name (repeatable)",
        collect,
      )
      .option("--dry-run", "show what would change; upload and deploy nothing")
      .option(
        "--force",
        "make a new version even when nothing changed (by default such a " +
          "deploy keeps the current version)",
      ),
  )
    .option("--json", "print the result as JSON");
}

/** A local file to upload before the deploy. */
interface Upload extends PendingFile {
  path: string;
  bytes: Uint8Array<ArrayBuffer>;
}

/**
 * Deploys `target` (a YAML file, or a package id with `--config`).
 * `redeploy` requires that the package exists.
 */
export async function deployFlow(
  ctx: CliContext,
  command: Command,
  target: string,
  options: DeployOptions,
  verb: "deploy" | "redeploy",
): Promise<void> {
  const file = options.config ?? target;
  const expectedId = options.config === undefined ? undefined : target;
  const source = await ctx.readTextFile(file);
  if (source.trim() === "") {
    throw new UsageError(`File "${file}" is empty`, {
      hint: "Pass a job package in YAML, e.g. examples/greet/job.yaml",
    });
  }
  const uploads = await readUploads(ctx, options);
  const wait = wantsWait(options) && !options.dryRun;
  const client = ctx.client(command);
  const check = options.dryRun || expectedId !== undefined ||
    verb === "redeploy" || uploads.length > 0;
  const force = { force: options.force };
  if (!check) {
    const res = await deployOrReport(
      ctx,
      file,
      () => client.deploy(source, force),
    );
    return await finish(ctx, client, res, options, wait);
  }

  const plan = await deployOrReport(
    ctx,
    file,
    () => client.planDeploy(source, uploads),
  );
  if (expectedId !== undefined && plan.id !== expectedId) {
    throw new UsageError(
      `Package "${expectedId}" is not the package in ${file}: its id is "${plan.id}"`,
      {
        hint:
          `Pass the id the YAML declares: jobico ${verb} ${plan.id} --config ${file}`,
      },
    );
  }
  if (verb === "redeploy" && plan.currentVersion === null) {
    throw new CliError(
      `Package "${plan.id}" of tenant "${plan.tenant}" does not exist yet: there is nothing to redeploy`,
      {
        hint: `Deploy it first: jobico deploy ${
          expectedId === undefined ? file : `${plan.id} --config ${file}`
        }`,
      },
    );
  }
  const uploadPlan = uploads.length
    ? await compareUploads(client, plan.tenant, uploads)
    : [];
  if (options.dryRun) {
    warn(ctx, plan.warnings);
    if (options.json) {
      return ctx.out.json({
        ...plan,
        ...(uploads.length ? { uploads: uploadPlan } : {}),
      });
    }
    return printPlan(ctx.out, plan, uploadPlan);
  }

  // A file the tenant already has with this content is not sent again.
  const same = new Set(
    uploadPlan.filter((u) => u.status === "unchanged").map((u) => u.name),
  );
  const uploaded = await uploadAll(
    ctx,
    client,
    plan.tenant,
    uploads.filter((u) => !same.has(u.name)),
    options,
  );
  if (!options.json) {
    for (const name of same) {
      ctx.out.line(`Unchanged ${plan.tenant}/${name} (not uploaded again)`);
    }
  }
  const res = await deployOrReport(
    ctx,
    file,
    () => client.deploy(source, force),
  );
  await finish(
    ctx,
    client,
    {
      ...res,
      ...(uploads.length
        ? { uploaded, ...(same.size ? { unchangedFiles: [...same] } : {}) }
        : {}),
    },
    options,
    wait,
  );
}

/** Each warning of a deploy or a dry run, on stderr. */
function warn(ctx: CliContext, warnings: ChainWarning[] | undefined): void {
  for (const w of warnings ?? []) {
    ctx.err.line(`${ctx.err.colors.yellow("warning:")} ${w.message}`);
  }
}

/** Prints the deploy (after waiting for it with `--wait`). */
async function finish(
  ctx: CliContext,
  client: JobicoClient,
  res: DeployResult & { uploaded?: FileInfo[]; unchangedFiles?: string[] },
  options: DeployOptions,
  wait: boolean,
): Promise<void> {
  warn(ctx, res.warnings);
  const deployed = res.unchanged
    ? `Unchanged ${res.tenant}/${res.id}: version ${res.version} stays current (nothing changed; --force makes a new version)`
    : `Deployed ${res.tenant}/${res.id} version ${res.version}`;
  if (!wait) {
    return options.json ? ctx.out.json(res) : ctx.out.line(deployed);
  }
  if (!options.json) ctx.out.line(deployed);
  const reached = await waitForDefinitions(ctx, client, options, deployed);
  if (options.json) return ctx.out.json({ ...res, wait: reached });
  ctx.out.line(describeWait(reached));
}

/** Uploads the files one by one, with a progress bar (by bytes) on a terminal. */
async function uploadAll(
  ctx: CliContext,
  client: JobicoClient,
  tenant: string,
  uploads: Upload[],
  options: DeployOptions,
): Promise<FileInfo[]> {
  const bar = new Progress(ctx.io.stderr, ctx.io.env, {
    label: "Uploading",
    total: uploads.reduce((sum, u) => sum + u.bytes.byteLength, 0),
    format: formatBytes,
  });
  const uploaded: FileInfo[] = [];
  let sent = 0;
  try {
    for (const u of uploads) {
      bar.update(sent, u.name);
      const info = await client.uploadFile(tenant, u.name, u.kind, u.bytes);
      sent += u.bytes.byteLength;
      uploaded.push(info);
      if (!options.json) {
        bar.done();
        ctx.out.line(`Uploaded ${tenant}/${info.name}`);
      }
      bar.update(sent);
    }
  } finally {
    bar.done();
  }
  return uploaded;
}

async function readUploads(
  ctx: CliContext,
  options: DeployOptions,
): Promise<Upload[]> {
  const out: Upload[] = [];
  const files: [string, FileKind][] = [
    ...(options.wasm ?? []).map((p): [string, FileKind] => [p, "wasm"]),
    ...(options.schema ?? []).map((p): [string, FileKind] => [p, "schema"]),
  ];
  for (const [path, kind] of files) {
    const name = basename(path);
    const twin = out.find((u) => u.name === name);
    if (twin) {
      throw new UsageError(
        `Files "${twin.path}" and "${path}" would both be uploaded as "${name}"`,
        { hint: "Rename one, or upload it with jobico upload-wasm --name" },
      );
    }
    const bytes = await ctx.readFile(path);
    out.push({ path, name, kind, bytes, sha256: await sha256Hex(bytes) });
  }
  return out;
}

/** Each upload against the tenant's file of that name. */
async function compareUploads(
  client: JobicoClient,
  tenant: string,
  uploads: Upload[],
): Promise<UploadPlan[]> {
  const current = new Map(
    (await filesOf(client, tenant)).map((f) => [f.name, f]),
  );
  return uploads.map((u) => {
    const cur = current.get(u.name);
    return {
      name: u.name,
      kind: u.kind,
      path: u.path,
      sha256: u.sha256,
      status: !cur ? "new" : cur.sha256 === u.sha256 ? "unchanged" : "changed",
      ...(cur && cur.sha256 !== u.sha256 ? { currentSha256: cur.sha256 } : {}),
    };
  });
}

/** A tenant's files; none when the tenant does not exist yet (the deploy makes it). */
async function filesOf(
  client: JobicoClient,
  tenant: string,
): Promise<FileInfo[]> {
  try {
    return await client.listFiles(tenant);
  } catch (error) {
    if (
      error instanceof ApiError && error.status === 404 &&
      /^Unknown tenant/.test(error.detail ?? "")
    ) return [];
    throw error;
  }
}

/** Runs a deploy (or a dry run); a rejected package prints its issues as `file:line:col`. */
async function deployOrReport<T>(
  ctx: CliContext,
  file: string,
  send: () => Promise<T>,
): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (
      error instanceof ApiError &&
      (error.status === 400 || error.status === 422) &&
      error.issues.length > 0
    ) {
      for (const issue of error.issues) {
        ctx.err.line(
          `${file}:${issue.line ?? 1}:${issue.col ?? 1}: ${issue.message}`,
        );
      }
      const count = error.issues.length;
      throw new CliError(
        `${file} not deployed: ${count} ${count === 1 ? "issue" : "issues"}`,
        { cause: error },
      );
    }
    throw error;
  }
}
