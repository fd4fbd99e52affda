import { randomUUID } from 'node:crypto';
import { formatPartnerCenterDate, type SimulatorClock } from './clock';
import {
  azurePlanId,
  createRefusal,
  customerFacts,
  decideEligibility,
  derivedGuid,
  hasAzurePlan,
  stableInt,
  type CustomerFacts,
  type EligibilityDecision,
} from './customers';
import { INELIGIBILITY, PC_ERRORS, type SimResponse } from './errors';
import {
  DEFAULT_DURATIONS,
  type CustomerSpec,
  type DurationSpec,
  type ErrorDetailsSpec,
  type UpgradeOutcome,
} from './scenario';

export const PRODUCT_FAMILY = 'Azure';
const SOURCE_PRODUCT_NAME = 'AzureSubscription';
const TARGET_PRODUCT_NAME = 'Microsoft Azure plan';
const DEFAULT_FAILURE: ErrorDetailsSpec = {
  code: 'UpgradeFailed',
  description: 'The upgrade of the Azure subscription to an Azure plan failed.',
};

export type UpgradeStatusValue = 'Pending' | 'InProgress' | 'Completed' | 'Failed';

export interface LineItemView {
  sourceProduct: { id: string; name: string };
  targetProduct: { id: string; name: string };
  upgradedDate?: string;
  status: UpgradeStatusValue;
  errorDetails?: ErrorDetailsSpec;
}

/** The wire shape of the status operation. */
export interface UpgradeStatusView {
  id: string;
  productFamily: string;
  status: UpgradeStatusValue;
  lineItems: LineItemView[];
  errorDetails?: ErrorDetailsSpec;
}

/** Admin ground truth: the status view plus everything the service knows. */
export interface UpgradeTruth extends UpgradeStatusView {
  customerId: string;
  customerName?: string;
  outcome: UpgradeOutcome;
  requestId?: string;
  correlationId?: string;
  createdAt: string;
  inProgressAt: string;
  finishesAt: string;
  /** Set once the upgrade reached Completed or Failed (simulated time). */
  finishedAt?: string;
}

export interface LineItemRecord {
  sourceId: string;
  /** The Azure plan it moves to, when not the upgrade's (indirect model: one plan per reseller). */
  targetId?: string;
  fails: boolean;
  /** When this line item is done (simulated epoch ms); failures all land at the end. */
  doneAt: number;
}

export interface UpgradeRecord {
  id: string;
  customerId: string;
  createdAt: number;
  inProgressAt: number;
  finishesAt: number;
  outcome: UpgradeOutcome;
  targetId: string;
  lineItems: LineItemRecord[];
  errorDetails?: ErrorDetailsSpec;
  requestId?: string;
  correlationId?: string;
}

export interface CustomerRecord {
  spec: CustomerSpec;
  /** Upgrade ids in creation order; the last one decides eligibility. */
  upgrades: string[];
}

/**
 * Customers and their upgrades. Lookups are Map gets (O(1)); an upgrade's status is computed on demand from its
 * timestamps and the clock (no timers, no scans), so 10,000 customers cost nothing while idle. The customer model
 * (subscriptions, plans, agreement, eligibility) is derived in customers.ts from a customer's spec and upgrades.
 */
export class UpgradeStore {
  private readonly customers = new Map<string, CustomerRecord>();
  /** The customers in the order they are listed (scenario order; added ones at the end). */
  private readonly order: CustomerRecord[] = [];
  private readonly upgrades = new Map<string, UpgradeRecord>();
  /** `${customerId}|${MS-RequestId}` → upgrade id: a repeated create returns the same upgrade. */
  private readonly byRequestId = new Map<string, string>();
  /** Simulated time when the store was made: the scenario's start (creation dates lie before it). */
  readonly startedAt: number;
  /** Called after an upgrade was created (persistence). */
  onChange: () => void = () => undefined;

  constructor(
    private readonly clock: SimulatorClock,
    private readonly defaultDurations: DurationSpec,
    customers: CustomerSpec[],
  ) {
    this.startedAt = clock.now();
    for (const spec of customers) this.addCustomer(spec);
  }

  addCustomer(spec: CustomerSpec): void {
    const key = spec.id.toLowerCase();
    let record = this.customers.get(key);
    if (record) {
      record.spec = spec;
    } else {
      record = { spec, upgrades: [] };
      this.customers.set(key, record);
      this.order.push(record);
    }
    if (spec.existingUpgrade && record.upgrades.length === 0) this.existingUpgrade(record, spec.existingUpgrade);
  }

  get customerCount(): number {
    return this.customers.size;
  }

  /** The customer at a position of the listing order (paging). */
  customerAt(index: number): CustomerRecord | undefined {
    return this.order[index];
  }

  customerRecord(customerId: string): CustomerRecord | undefined {
    return this.customers.get(customerId.toLowerCase());
  }

  private upgradesOf(customer: CustomerRecord): UpgradeRecord[] {
    return customer.upgrades.map((id) => this.upgrades.get(id)!);
  }

  /** The customer's subscriptions, plans and agreement now. */
  facts(customer: CustomerRecord): CustomerFacts {
    return customerFacts(customer.spec, this.upgradesOf(customer), this.clock.now(), this.startedAt);
  }

  /** Has an Azure plan now (`isUpgraded`), without deriving subscription ids: usage-record pages stay cheap. */
  isUpgraded(customer: CustomerRecord): boolean {
    return customer.upgrades.length > 0 && hasAzurePlan(this.upgradesOf(customer), this.clock.now());
  }

  /** Whether the customer can be upgraded now, and why not: the same answer eligibility and create give. */
  decision(customer: CustomerRecord): EligibilityDecision {
    const latest = this.latestUpgrade(customer);
    return decideEligibility(customer.spec, latest && { id: latest.id, status: this.phase(latest) });
  }

  get upgradeCount(): number {
    return this.upgrades.size;
  }

  getCustomer(customerId: string): (CustomerSpec & { upgradeIds: string[] }) | undefined {
    const record = this.customers.get(customerId.toLowerCase());
    return record ? { ...record.spec, upgradeIds: [...record.upgrades] } : undefined;
  }

  *customerSpecs(): IterableIterator<CustomerSpec> {
    for (const record of this.customers.values()) yield record.spec;
  }

  private latestUpgrade(customer: CustomerRecord): UpgradeRecord | undefined {
    const id = customer.upgrades[customer.upgrades.length - 1];
    return id ? this.upgrades.get(id) : undefined;
  }

  /** POST /v1/productUpgrades/eligibility. */
  eligibility(customerId: string): SimResponse {
    const customer = this.customers.get(customerId.toLowerCase());
    if (!customer) return PC_ERRORS.noRelationship();
    const body = { customerId, productFamily: PRODUCT_FAMILY, isEligible: true } as {
      customerId: string;
      productFamily: string;
      isEligible: boolean;
      upgradeId?: string;
      reason?: string;
    };
    const decision = this.decision(customer);
    switch (decision.kind) {
      case 'eligible':
        break;
      case 'noRelationship':
        return PC_ERRORS.noRelationship();
      case 'upgradeExists':
        body.isEligible = false;
        body.upgradeId = decision.upgradeId;
        body.reason =
          decision.status === 'Completed'
            ? 'The customer has already been upgraded to an Azure plan.'
            : 'An upgrade to an Azure plan is already in progress for this customer.';
        break;
      case 'ineligible':
        body.isEligible = false;
        body.reason = INELIGIBILITY[decision.reason].text;
        break;
    }
    return { status: 200, body };
  }

  /** POST /v1/productUpgrades: 202 with a relative Location, or the documented error. */
  create(customerId: string, requestId: string | undefined, correlationId: string | undefined): SimResponse {
    const key = customerId.toLowerCase();
    const accepted = (id: string): SimResponse => ({ status: 202, headers: { Location: `productUpgrades/${id}` } });
    const replayKey = requestId ? `${key}|${requestId.toLowerCase()}` : undefined;
    const replayed = replayKey ? this.byRequestId.get(replayKey) : undefined;
    if (replayed) return accepted(replayed);
    const customer = this.customers.get(key);
    if (!customer) return PC_ERRORS.noRelationship();
    const refused = createRefusal(this.decision(customer));
    if (refused) return refused;
    const record = this.newUpgrade(customer, { createdAt: this.clock.now(), requestId, correlationId });
    if (replayKey) this.byRequestId.set(replayKey, record.id);
    this.onChange();
    return accepted(record.id);
  }

  /**
   * The upgrade a scenario says existed before it started, with a stable id (a state file restores it in place):
   * `completed` weeks ago (the customer is on an Azure plan), or `running` (InProgress at the start).
   */
  private existingUpgrade(customer: CustomerRecord, kind: 'running' | 'completed'): void {
    const key = customer.spec.id.toLowerCase();
    const id = derivedGuid(`${key}/existing-upgrade`);
    if (kind === 'completed') {
      const createdAt = this.startedAt - (7 + stableInt(key, 400)) * 86_400_000;
      this.newUpgrade(customer, {
        id,
        createdAt,
        outcome: 'Completed',
        durations: { pendingSeconds: 60, inProgressSeconds: 3600 },
      });
    } else {
      const durations = this.durationsOf(customer.spec);
      this.newUpgrade(customer, { id, createdAt: this.startedAt - durations.pendingSeconds * 1000 });
    }
  }

  private durationsOf(spec: CustomerSpec): Required<DurationSpec> {
    return { ...DEFAULT_DURATIONS, ...this.defaultDurations, ...spec.durations };
  }

  private newUpgrade(
    customer: CustomerRecord,
    options: {
      createdAt: number;
      id?: string;
      requestId?: string;
      correlationId?: string;
      outcome?: UpgradeOutcome;
      durations?: Required<DurationSpec>;
    },
  ): UpgradeRecord {
    const { requestId, correlationId, createdAt } = options;
    const spec = customer.spec;
    // The legacy subscriptions not moved yet: after a partial failure, a new upgrade takes only those left.
    const sources = this.facts(customer).legacy.filter((fact) => fact.status === 'active');
    const durations = options.durations ?? this.durationsOf(spec);
    const inProgressAt = createdAt + durations.pendingSeconds * 1000;
    const finishesAt = inProgressAt + durations.inProgressSeconds * 1000;
    const outcome = options.outcome ?? spec.outcome ?? 'Completed';
    const n = sources.length;
    const failing =
      outcome === 'Failed'
        ? n
        : outcome === 'PartiallyFailed'
          ? Math.min(Math.max(spec.failedLineItems ?? Math.floor(n / 2), 1), Math.max(n - 1, 1))
          : 0;
    const direct = azurePlanId(spec.id, undefined);
    const lineItems = sources.map((source, i): LineItemRecord => {
      const fails = i >= n - failing;
      // Successful line items finish one after another during InProgress; failures are known at the end.
      const doneAt = fails ? finishesAt : inProgressAt + Math.round(((i + 1) / n) * (finishesAt - inProgressAt));
      const item: LineItemRecord = { sourceId: source.id, fails, doneAt };
      if (source.partnerId !== undefined) item.targetId = azurePlanId(spec.id, source.partnerId);
      return item;
    });
    const record: UpgradeRecord = {
      id: options.id ?? randomUUID(),
      customerId: spec.id,
      createdAt,
      inProgressAt,
      finishesAt,
      outcome,
      targetId: direct,
      lineItems,
      requestId,
      correlationId,
    };
    if (outcome !== 'Completed') record.errorDetails = spec.errorDetails ?? DEFAULT_FAILURE;
    this.upgrades.set(record.id, record);
    customer.upgrades.push(record.id);
    return record;
  }

  /** POST /v1/productUpgrades/{id}/status. */
  status(upgradeId: string, customerId: string): SimResponse {
    const record = this.upgrades.get(upgradeId.toLowerCase());
    if (!record) return PC_ERRORS.upgradeNotFound(upgradeId);
    if (record.customerId.toLowerCase() !== customerId.toLowerCase()) return PC_ERRORS.otherCustomer(upgradeId);
    return { status: 200, body: this.statusAt(record) };
  }

  /** The top-level status now, without building the line items. */
  private phase(record: UpgradeRecord): UpgradeStatusValue {
    const now = this.clock.now();
    if (now < record.inProgressAt) return 'Pending';
    if (now < record.finishesAt) return 'InProgress';
    return record.outcome === 'Completed' ? 'Completed' : 'Failed';
  }

  private statusAt(record: UpgradeRecord): UpgradeStatusView {
    const now = this.clock.now();
    const phase: UpgradeStatusValue = now < record.inProgressAt ? 'Pending' : 'InProgress';
    const finished = now >= record.finishesAt;
    const lineItems = record.lineItems.map((item): LineItemView => {
      const view: LineItemView = {
        sourceProduct: { id: item.sourceId, name: SOURCE_PRODUCT_NAME },
        targetProduct: { id: item.targetId ?? record.targetId, name: TARGET_PRODUCT_NAME },
        status: finished ? (item.fails ? 'Failed' : 'Completed') : phase,
      };
      if (!item.fails && now >= item.doneAt) {
        view.status = 'Completed';
        view.upgradedDate = formatPartnerCenterDate(item.doneAt);
      }
      if (finished && item.fails) view.errorDetails = record.errorDetails;
      return view;
    });
    const view: UpgradeStatusView = {
      id: record.id,
      productFamily: PRODUCT_FAMILY,
      status: finished ? (record.outcome === 'Completed' ? 'Completed' : 'Failed') : phase,
      lineItems,
    };
    if (finished && record.errorDetails) view.errorDetails = record.errorDetails;
    return view;
  }

  private truth(record: UpgradeRecord): UpgradeTruth {
    const view = this.statusAt(record);
    const truth: UpgradeTruth = {
      ...view,
      customerId: record.customerId,
      customerName: this.customers.get(record.customerId.toLowerCase())?.spec.name,
      outcome: record.outcome,
      requestId: record.requestId,
      correlationId: record.correlationId,
      createdAt: new Date(record.createdAt).toISOString(),
      inProgressAt: new Date(record.inProgressAt).toISOString(),
      finishesAt: new Date(record.finishesAt).toISOString(),
    };
    if (this.clock.now() >= record.finishesAt) truth.finishedAt = truth.finishesAt;
    return truth;
  }

  /** Ground truth of one upgrade, at the current simulated time. */
  getUpgrade(upgradeId: string): UpgradeTruth | undefined {
    const record = this.upgrades.get(upgradeId.toLowerCase());
    return record ? this.truth(record) : undefined;
  }

  /** Ground truth of every upgrade (optionally one customer's, or those in one status). */
  listUpgrades(filter: { customerId?: string; status?: string } = {}): UpgradeTruth[] {
    let records: Iterable<UpgradeRecord> = this.upgrades.values();
    if (filter.customerId) {
      const customer = this.customers.get(filter.customerId.toLowerCase());
      records = (customer?.upgrades ?? []).map((id) => this.upgrades.get(id)!);
    }
    const out: UpgradeTruth[] = [];
    for (const record of records) {
      const truth = this.truth(record);
      if (!filter.status || truth.status.toLowerCase() === filter.status.toLowerCase()) out.push(truth);
    }
    return out;
  }

  /** Upgrades and idempotency keys for a state file. */
  exportState(): { upgrades: UpgradeRecord[]; requestIds: Array<[string, string]> } {
    return { upgrades: [...this.upgrades.values()], requestIds: [...this.byRequestId.entries()] };
  }

  /**
   * Restores upgrades from a state file (oldest first, so each customer's latest upgrade stays last). An upgrade the
   * scenario made at start (same stable id) is replaced by its saved self.
   */
  importState(state: { upgrades: UpgradeRecord[]; requestIds: Array<[string, string]> }): void {
    const sorted = [...state.upgrades].sort((a, b) => a.createdAt - b.createdAt);
    for (const record of sorted) {
      const known = this.upgrades.has(record.id);
      this.upgrades.set(record.id, record);
      if (known) continue;
      this.customers.get(record.customerId.toLowerCase())?.upgrades.push(record.id);
    }
    for (const [key, id] of state.requestIds) if (this.upgrades.has(id)) this.byRequestId.set(key, id);
  }

  /** Counts per true status, for dashboards and benchmark checks. */
  statusCounts(): Record<UpgradeStatusValue, number> {
    const counts: Record<UpgradeStatusValue, number> = { Pending: 0, InProgress: 0, Completed: 0, Failed: 0 };
    for (const record of this.upgrades.values()) counts[this.phase(record)]++;
    return counts;
  }
}
