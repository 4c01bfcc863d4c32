import assert from "node:assert/strict";
import { ValidationError } from "@jobico/goico";
import {
  applySettingsPatch,
  DEFAULT_QUOTAS,
  DEFAULT_RETENTION,
  effectivePolicy,
  parseSettingsPatch,
  policyDefaults,
} from "./tenant_policy.ts";

Deno.test("policyDefaults: nothing set gives the documented defaults", () => {
  assert.deepEqual(policyDefaults(), {
    retention: { days: 7, executions: 100_000, versions: 10 },
    quotas: { files: 1_000, bytes: 1024 ** 3, maxConcurrency: 0 },
  });
  assert.deepEqual(policyDefaults().retention, DEFAULT_RETENTION);
  assert.deepEqual(policyDefaults().quotas, DEFAULT_QUOTAS);
});

Deno.test("policyDefaults: a member left undefined keeps its default (no options-spread bug)", () => {
  const d = policyDefaults({
    retention: { days: 30, executions: undefined, versions: undefined },
    quotas: { files: undefined, bytes: 5 },
  });
  assert.deepEqual(d, {
    retention: { days: 30, executions: 100_000, versions: 10 },
    quotas: { files: 1_000, bytes: 5, maxConcurrency: 0 },
  });
});

Deno.test("policyDefaults: a value out of range is refused, naming it", () => {
  assert.throws(
    () => policyDefaults({ retention: { versions: 0 } }),
    /Invalid "retention.versions" 0: use a whole number from 1 to 10000/,
  );
});

Deno.test("parseSettingsPatch: numbers set, null resets, the rest stays", () => {
  const patch = parseSettingsPatch({
    retention: { days: 1, executions: null },
    quotas: { bytes: 0 },
  });
  assert.deepEqual(patch, {
    retention: { days: 1, executions: null },
    quotas: { bytes: 0 },
  });
  const before = { retention: { executions: 5, versions: 2 } };
  const after = applySettingsPatch(before, patch);
  assert.deepEqual(after, {
    retention: { versions: 2, days: 1 },
    quotas: { bytes: 0 },
  });
  // Every member back to the default leaves nothing of its own.
  assert.deepEqual(
    applySettingsPatch(after, {
      retention: { versions: null, days: null },
      quotas: { bytes: null },
    }),
    {},
  );
  const policy = effectivePolicy(after, policyDefaults());
  assert.deepEqual(policy.retention, {
    days: 1,
    executions: 100_000,
    versions: 2,
  });
  assert.deepEqual(policy.quotas, {
    files: 1000,
    bytes: 0,
    maxConcurrency: 0,
  });
  assert.deepEqual(policy.overrides, after);
});

Deno.test("parseSettingsPatch: each bad input names the member and what it takes", () => {
  const cases: [unknown, RegExp][] = [
    [[], /^Tenant settings must be JSON like/],
    [null, /^Tenant settings must be JSON like/],
    [
      { retentions: {} },
      /^Unknown tenant setting "retentions": use "retention" or "quotas"$/,
    ],
    [{ retention: 7 }, /^Tenant setting "retention" must be an object like/],
    [
      { quotas: { size: 1 } },
      /^Unknown tenant setting "quotas.size": use "quotas.files", "quotas.bytes", "quotas.maxConcurrency"$/,
    ],
    [
      { retention: { days: -1 } },
      /^Invalid "retention.days" -1: use a whole number from 0 to 36500, or null for the platform's default$/,
    ],
    [{ retention: { days: 1.5 } }, /^Invalid "retention.days" 1.5:/],
    [{ retention: { days: "7" } }, /^Invalid "retention.days" "7":/],
    [
      { retention: { versions: 0 } },
      /^Invalid "retention.versions" 0: use a whole number from 1 to 10000/,
    ],
    [
      JSON.parse('{"__proto__": {"days": 1}}'),
      /^Unknown tenant setting "__proto__"/,
    ],
    [
      { retention: { constructor: 1 } },
      /^Unknown tenant setting "retention.constructor"/,
    ],
    [{ quotas: { toString: 1 } }, /^Unknown tenant setting "quotas.toString"/],
    [
      { quotas: { maxConcurrency: -1 } },
      /^Invalid "quotas.maxConcurrency" -1: use a whole number from 0 to 100000, or null/,
    ],
    [
      { quotas: { maxConcurrency: 1e9 } },
      /^Invalid "quotas.maxConcurrency" 1000000000: use a whole number from 0 to 100000/,
    ],
    [
      { quotas: { bytes: 2 ** 60 } },
      /^Invalid "quotas.bytes" 1152921504606847000:/,
    ],
  ];
  for (const [body, message] of cases) {
    assert.throws(
      () => parseSettingsPatch(body),
      (err: unknown) =>
        err instanceof ValidationError && message.test(err.message),
      JSON.stringify(body),
    );
  }
});
