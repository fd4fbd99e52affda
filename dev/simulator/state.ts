import type { SimulatorClock } from './clock';
import type { Counters, CountersSnapshot } from './counters';
import type { FaultInjector } from './faults';
import type { CustomerTruth, FleetApi, FleetSummary, PagingSettings } from './fleet';
import type { RateLimiter } from './rate-limit';
import {
  validateCustomer,
  type CustomerSpec,
  type FaultRoute,
  type FaultSpec,
  type PagingSpec,
  type RateLimitSpec,
} from './scenario';
import type { TokenAuthority, TokenSettings } from './tokens';
import type { UpgradeStatusValue, UpgradeStore, UpgradeTruth } from './upgrades';

/**
 * In-process access to exactly what the admin API (`/_sim/...`) serves: tests and benchmarks read ground truth
 * here without HTTP, and the admin routes are thin wrappers over these methods.
 */
export class SimulatorState {
  constructor(
    readonly clock: SimulatorClock,
    private readonly store: UpgradeStore,
    private readonly authority: TokenAuthority,
    private readonly counterSet: Counters,
    private readonly faultInjector: FaultInjector,
    private readonly limiter: RateLimiter,
    private readonly pagingSettings: PagingSettings,
    private readonly fleet: FleetApi,
  ) {}

  /** Ground truth of one upgrade at the current simulated time. */
  getUpgrade(upgradeId: string): UpgradeTruth | undefined {
    return this.store.getUpgrade(upgradeId);
  }

  listUpgrades(filter?: { customerId?: string; status?: string }): UpgradeTruth[] {
    return this.store.listUpgrades(filter);
  }

  upgradeStatusCounts(): Record<UpgradeStatusValue, number> {
    return this.store.statusCounts();
  }

  get upgradeCount(): number {
    return this.store.upgradeCount;
  }

  get customerCount(): number {
    return this.store.customerCount;
  }

  getCustomer(customerId: string): (CustomerSpec & { upgradeIds: string[] }) | undefined {
    return this.store.getCustomer(customerId);
  }

  listCustomers(offset = 0, limit = 100): CustomerSpec[] {
    const out: CustomerSpec[] = [];
    let index = 0;
    for (const spec of this.store.customerSpecs()) {
      if (index++ < offset) continue;
      if (out.length >= limit) break;
      out.push(spec);
    }
    return out;
  }

  /** Adds (or replaces the spec of) a customer at run time. */
  addCustomer(spec: CustomerSpec): void {
    this.store.addCustomer(validateCustomer(spec, 'customer'));
  }

  counters(): CountersSnapshot {
    return this.counterSet.snapshot();
  }

  resetCounters(): void {
    this.counterSet.reset();
  }

  faults(): Partial<Record<FaultRoute, FaultSpec>> {
    return this.faultInjector.snapshot();
  }

  setFaults(route: FaultRoute, faults: FaultSpec | null): void {
    this.faultInjector.set(route, faults);
  }

  clearFaults(): void {
    this.faultInjector.clear();
  }

  rateLimits(): RateLimitSpec {
    return this.limiter.snapshot();
  }

  setRateLimits(spec: RateLimitSpec): void {
    this.limiter.configure(spec);
  }

  /** The paging switches of the customer and usage-record lists (defaults filled in). */
  paging(): Required<PagingSpec> {
    return this.pagingSettings.current;
  }

  /** Replaces the paging switches; what is not given takes its default. */
  setPaging(spec: PagingSpec): void {
    this.pagingSettings.configure(spec);
  }

  /**
   * Ground truth of one customer now: relationship, Azure plan, legacy subscriptions (status, reseller), agreement,
   * and what eligibility answers (reason, code, upgrade id). Undefined for a customer the scenario does not have.
   */
  customerTruth(customerId: string): CustomerTruth | undefined {
    return this.fleet.truth(customerId);
  }

  /** Ground truth of `limit` customers from `offset`, in the order the customer list pages them. */
  customerTruths(offset = 0, limit = 100): CustomerTruth[] {
    return this.fleet.truths(offset, limit);
  }

  /** Counts over the whole customer base: advisors, on an Azure plan, eligible, per reason. */
  fleetSummary(): FleetSummary {
    return this.fleet.summary();
  }

  tokenSettings(): TokenSettings {
    return { ...this.authority.settings };
  }

  setTokenSettings(settings: Partial<TokenSettings>): TokenSettings {
    const next = { ...this.authority.settings, ...settings };
    for (const key of [
      'accessTokenLifetimeSeconds',
      'refreshTokenInactivitySeconds',
      'deviceCodeLifetimeSeconds',
    ] as const) {
      if (typeof next[key] !== 'number' || !(next[key] > 0)) throw new RangeError(`${key} must be a positive number`);
    }
    if (typeof next.mfa !== 'boolean') throw new RangeError('mfa must be true or false');
    const auto = next.deviceCodeAutoApproveSeconds;
    if (auto !== null && (typeof auto !== 'number' || !(auto >= 0))) {
      throw new RangeError('deviceCodeAutoApproveSeconds must be a number >= 0 or null');
    }
    this.authority.settings = next;
    return this.tokenSettings();
  }

  tokenStats(): { accessTokens: number; refreshTokens: number; pendingDeviceCodes: number } {
    return this.authority.stats();
  }

  /** The user approves a device-code sign-in. False when the user code is unknown. */
  approveDeviceCode(userCode: string): boolean {
    return this.authority.approveDeviceCode(userCode);
  }

  /** Every access token issued so far expires now (clients get 401 800001 until they refresh). */
  expireAccessTokens(): number {
    return this.authority.expireAllAccessTokens();
  }

  /** Every refresh token dies (the next refresh is invalid_grant AADSTS700082): the "consent again" case. */
  expireRefreshTokens(): number {
    return this.authority.expireAllRefreshTokens();
  }
}
