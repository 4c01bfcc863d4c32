/**
 * Each tenant's retention and quota settings, stored beside the tenant and
 * read over the platform's defaults (see `tenant_policy.ts`).
 */
import { ConflictError, NotFoundError } from "@jobico/goico";
import { checkName } from "../http/check_name.ts";
import { keys } from "../model/keys.ts";
import {
  applySettingsPatch,
  effectivePolicy,
  type PolicyDefaults,
  type SettingsPatch,
  type TenantPolicy,
  type TenantSettings,
} from "./tenant_policy.ts";

export class TenantPolicies {
  constructor(
    private readonly kv: Deno.Kv,
    /** The platform's defaults. */
    readonly defaults: PolicyDefaults,
  ) {}

  /** The tenant's policy: its settings over the defaults. */
  async get(tenant: string): Promise<TenantPolicy> {
    const settings = (await this.kv.get<TenantSettings>(
      keys.tenantSettings(tenant),
    )).value ?? {};
    return effectivePolicy(settings, this.defaults);
  }

  /**
   * Changes a tenant's settings.
   *
   * @throws {NotFoundError} no such tenant
   */
  async update(
    tenant: string,
    patch: SettingsPatch,
  ): Promise<TenantPolicy> {
    checkName("tenant", tenant);
    for (let tries = 0; tries < 10; tries++) {
      const [marker, entry] = await this.kv.getMany<[unknown, TenantSettings]>(
        [keys.tenant(tenant), keys.tenantSettings(tenant)],
      );
      if (marker.versionstamp === null) {
        throw new NotFoundError(`Unknown tenant "${tenant}"`);
      }
      const next = applySettingsPatch(entry.value ?? {}, patch);
      const op = this.kv.atomic().check(marker).check(entry);
      if (Object.keys(next).length > 0) op.set(entry.key, next);
      else op.delete(entry.key);
      if ((await op.commit()).ok) return effectivePolicy(next, this.defaults);
    }
    throw new ConflictError(
      `Tenant "${tenant}" is being changed concurrently; try again`,
    );
  }
}
