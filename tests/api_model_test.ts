/**
 * The model's own types (components/model: what the parser and the diff
 * make) and the API's schemas (api/) agree: the types are checked by
 * `deno check` (a drift fails to compile), and real values the model makes
 * from the examples' packages pass the schemas the document shows.
 */
import assert from "node:assert/strict";
import {
  type ChainedFrom as ApiChainedFrom,
  type FieldChange as ApiFieldChange,
  type JobPackage as ApiJobPackage,
  JobPackage as JobPackageSchema,
  type PackageChange as ApiPackageChange,
  PackageChange as PackageChangeSchema,
  type PackageIssue as ApiPackageIssue,
  PackageIssue as PackageIssueSchema,
} from "../api/mod.ts";
import { ApiCheck } from "../components/http/api_check.ts";
import type { ChainedFrom } from "../components/model/event_item.ts";
import type {
  JobPackage,
  PackageIssue,
} from "../components/model/job_package.ts";
import {
  diffPackages,
  type FieldChange,
  type PackageChange,
} from "../components/model/package_diff.ts";
import { parsePackage } from "../components/model/parse_package.ts";

/** `true` when every A is a B. */
type Fits<A, B> = [A] extends [B] ? true : false;
/** `true` when A and B hold the same values. */
type Same<A, B> = Fits<A, B> extends true ? Fits<B, A> : false;

// What the model makes, the API answers: each line fails to compile on a drift.
const agree: true[] = [
  true satisfies Same<PackageIssue, ApiPackageIssue>,
  true satisfies Same<PackageChange, ApiPackageChange>,
  true satisfies Same<FieldChange, ApiFieldChange>,
  true satisfies Same<ChainedFrom, ApiChainedFrom>,
  // A package as a deploy stores it is one the API describes (the API's
  // allows what the model fills in, e.g. `datatype`, to be absent).
  true satisfies Fits<JobPackage, ApiJobPackage>,
];

Deno.test("the model's packages, diffs and issues pass the API's schemas", async () => {
  assert.equal(agree.length, 5);
  const packages = new ApiCheck(JobPackageSchema);
  const changes = new ApiCheck(PackageChangeSchema);
  const issues = new ApiCheck(PackageIssueSchema);
  let seen = 0;
  for (const dir of ["greet", "rust"]) {
    const source = await Deno.readTextFile(
      new URL(`../examples/${dir}/job.yaml`, import.meta.url),
    );
    const { pkg, issues: found } = parsePackage(source);
    assert.deepEqual(found, [], dir);
    assert.ok(pkg, dir);
    assert.equal(packages.issue(pkg), undefined, dir);
    const diff = diffPackages(null, { package: pkg, files: {} });
    assert.ok(diff.length > 0);
    for (const c of diff) assert.equal(changes.issue(c), undefined);
    // The same package with its runtime changed: a `changed` with fields.
    const changed = structuredClone(pkg);
    changed.runtimes[0].mainfuncname = "other";
    const fields = diffPackages({ package: pkg, files: {} }, {
      package: changed,
      files: {},
    }).filter((c) => c.fields);
    assert.ok(fields.length > 0);
    for (const c of fields) assert.equal(changes.issue(c), undefined);
    seen++;
  }
  assert.equal(seen, 2);
  // A broken package's issues are the API's too; one the schema refuses fails.
  const broken = parsePackage("id: x\ntenant: t\nqueues: 7\n").issues;
  assert.ok(broken.length > 0);
  for (const i of broken) assert.equal(issues.issue(i), undefined);
  assert.equal(
    packages.issue({ id: "x", tenant: "t", queues: [], jobs: [], runtimes: 1 })
      ?.keyword,
    "type",
  );
});
