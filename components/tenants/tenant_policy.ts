/**
 * What the platform keeps of a tenant (retention) and how much it may store
 * (quotas): the platform's defaults, a tenant's own settings over them, and
 * the checks of a settings change.
 */
import { ValidationError } from "@jobico/goico";
import {
  POLICY_RANGES,
  type Quotas,
  type RetentionPolicy,
  TenantSettings as TenantSettingsSchema,
} from "../../api/mod.ts";
import { ApiCheck, type ApiIssue } from "../http/api_check.ts";

/**
 * What is kept of a tenant (the API's `RetentionPolicy`): executions
 * younger than `days` (0: whatever their age), the newest `executions`
 * (0: no limit), and of each package the newest `versions` (the current
 * one among them) besides every version a queued event was accepted under.
 */
export type { RetentionPolicy };

/**
 * What a tenant may store (the API's `Quotas`): `files` names, and `bytes`,
 * the size of each distinct content its files and kept versions use, once;
 * and `maxConcurrency`, its executions at once across every process (0: no
 * limit), enforced by the store's gates (executor/concurrency_gates.ts).
 */
export type { Quotas };

/** The platform's defaults, for tenants that set nothing. */
export interface PolicyDefaults {
  retention: RetentionPolicy;
  quotas: Quotas;
}

/** A tenant's own settings: what it sets wins over the platform's default. */
export interface TenantSettings {
  retention?: Partial<RetentionPolicy>;
  quotas?: Partial<Quotas>;
}

/** A tenant's policy: the settings in force, and which of them are its own. */
export interface TenantPolicy extends PolicyDefaults {
  /** What the tenant sets itself (absent members follow the platform). */
  overrides: TenantSettings;
}

/** Keeps a week of executions, at most 100,000 of them, and 10 versions of each package. */
export const DEFAULT_RETENTION: RetentionPolicy = {
  days: 7,
  executions: 100_000,
  versions: 10,
};

/** 1,000 files and 1 GiB per tenant; executions at once: no limit (0). */
export const DEFAULT_QUOTAS: Quotas = {
  files: 1_000,
  bytes: 1024 ** 3,
  maxConcurrency: 0,
};

/** The accepted range of each setting (the API's schemas carry the same). */
export { POLICY_RANGES };
POLICY_RANGES satisfies {
  retention: Record<keyof RetentionPolicy, readonly [number, number]>;
  quotas: Record<keyof Quotas, readonly [number, number]>;
};

type Section = keyof typeof POLICY_RANGES;

/**
 * A change of a tenant's settings: a number sets a member, null gives it
 * back to the platform's default, an absent member stays as it is.
 */
export type SettingsPatch = {
  [S in Section]?: { [K in keyof TenantSettings[S] & string]?: number | null };
};

/**
 * The platform's defaults: `DEFAULT_RETENTION` and `DEFAULT_QUOTAS` with
 * what `options` sets over them (a member left undefined keeps its
 * default).
 *
 * @throws {ValidationError} a value out of its range (`POLICY_RANGES`)
 */
export function policyDefaults(
  options: { retention?: Partial<RetentionPolicy>; quotas?: Partial<Quotas> } =
    {},
): PolicyDefaults {
  const patch = parseSettingsPatch({
    retention: definedOnly(options.retention),
    quotas: definedOnly(options.quotas),
  });
  const { retention, quotas } = effectivePolicy(
    applySettingsPatch({}, patch),
    { retention: DEFAULT_RETENTION, quotas: DEFAULT_QUOTAS },
  );
  return { retention, quotas };
}

function definedOnly(o: object | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o ?? {}).filter(([, v]) => v !== undefined),
  );
}

/** The settings in force for a tenant: its own over the defaults. */
export function effectivePolicy(
  settings: TenantSettings,
  defaults: PolicyDefaults,
): TenantPolicy {
  const retention = { ...defaults.retention };
  for (const [k, v] of Object.entries(settings.retention ?? {})) {
    if (typeof v === "number") retention[k as keyof RetentionPolicy] = v;
  }
  const quotas = { ...defaults.quotas };
  for (const [k, v] of Object.entries(settings.quotas ?? {})) {
    if (typeof v === "number") quotas[k as keyof Quotas] = v;
  }
  return { retention, quotas, overrides: settings };
}

/**
 * Checks a settings change (a request body) against the API's
 * `TenantSettings` schema and names the first bad member.
 *
 * @throws {ValidationError} naming the member, its value and what it accepts
 */
export function parseSettingsPatch(body: unknown): SettingsPatch {
  const issue = new ApiCheck(TenantSettingsSchema).issue(body);
  if (issue) throw new ValidationError(settingsIssue(issue));
  return body as SettingsPatch;
}

/** The sentence of a settings change's first issue. */
function settingsIssue(issue: ApiIssue): string {
  const example = '{"retention": {"days": 30}, "quotas": {"files": 100}}';
  const [section, name] = issue.path;
  const members = Object.keys(
    (issue.schema as { properties?: object }).properties ?? {},
  );
  if (issue.keyword === "additionalProperties") {
    const where = section === undefined ? "" : `${section}.`;
    return `Unknown tenant setting "${where}${issue.member}": use ${
      section === undefined
        ? members.map((s) => `"${s}"`).join(" or ")
        : members.map((n) => `"${section}.${n}"`).join(", ")
    }`;
  }
  if (section === undefined) {
    return `Tenant settings must be JSON like ${example}`;
  }
  if (name === undefined) {
    return `Tenant setting "${section}" must be an object like ${example}`;
  }
  const { minimum, maximum } = issue.schema as {
    minimum: number;
    maximum: number;
  };
  return `Invalid "${section}.${name}" ${
    JSON.stringify(issue.value)
  }: use a whole number from ${minimum} to ${maximum}, or null for the platform's default`;
}

/** A tenant's settings after a change. */
export function applySettingsPatch(
  settings: TenantSettings,
  patch: SettingsPatch,
): TenantSettings {
  const out: TenantSettings = {};
  for (const section of Object.keys(POLICY_RANGES) as Section[]) {
    const merged: Record<string, number> = { ...settings[section] };
    const changes: Record<string, number | null | undefined> = patch[section] ??
      {};
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete merged[k];
      else if (v !== undefined) merged[k] = v;
    }
    if (Object.keys(merged).length > 0) {
      (out as Record<string, unknown>)[section] = merged;
    }
  }
  return out;
}
