/**
 * A tenant's retention, quotas and usage as the API shows them
 * (`GET /api/v1/tenants/{tenant}`), and the change of its settings
 * (`PATCH /api/v1/tenants/{tenant}`).
 */
import type { ExecutionStore } from "../executions/execution_store.ts";
import type { UsageLedger } from "../repo/usage_ledger.ts";
import type { TenantPolicies } from "../tenants/tenant_policies.ts";
import type {
  Quotas,
  RetentionPolicy,
  SettingsPatch,
  TenantSettings,
} from "../tenants/tenant_policy.ts";

/** What a tenant keeps and stores. */
export interface StorageView {
  /** The retention in force (its own settings over the platform's). */
  retention: RetentionPolicy;
  /** The quotas in force. */
  quotas: Quotas;
  /** What the tenant sets itself; the rest follows the platform. */
  settings: TenantSettings;
  usage: {
    files: number;
    bytes: number;
    versions: number;
    executions: number;
  };
}

export class TenantStorage {
  constructor(
    private readonly parts: {
      policies: TenantPolicies;
      ledger: UsageLedger;
      executions: ExecutionStore;
    },
  ) {}

  /** The tenant's retention, quotas and usage (writes nothing). */
  async describe(tenant: string): Promise<StorageView> {
    const { policies, ledger, executions } = this.parts;
    const [policy, usage, count] = await Promise.all([
      policies.get(tenant),
      ledger.read(tenant),
      executions.count(tenant),
    ]);
    return {
      retention: policy.retention,
      quotas: policy.quotas,
      settings: policy.overrides,
      usage: {
        files: usage.files,
        bytes: usage.bytes,
        versions: usage.versions,
        executions: count,
      },
    };
  }

  /**
   * Changes the tenant's settings; a retention change has the sweeper go
   * through its versions again.
   */
  async update(tenant: string, patch: SettingsPatch): Promise<StorageView> {
    await this.parts.policies.update(tenant, patch);
    if (patch.retention) await this.parts.ledger.markVersionsChanged(tenant);
    return await this.describe(tenant);
  }
}
