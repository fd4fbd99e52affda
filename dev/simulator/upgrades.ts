import { createHash, randomUUID } from 'node:crypto';
import { formatPartnerCenterDate, type SimulatorClock } from './clock';
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

/** The wire shape of the status operation (reference §2). */
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

interface CustomerRecord {
  spec: CustomerSpec;
  /** Derived on the first upgrade only: startup stays O(1) per customer for large scenarios. */
  subscriptionIds?: string[];
  targetId?: string;
  /** Upgrade ids in creation order; the last one decides eligibility. */
  upgrades: string[];
}

/** A stable GUID-shaped id derived from text: the same scenario gives the same subscription ids on every run. */
function derivedGuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Customers and their upgrades. Lookups are Map gets (O(1)); an upgrade's status is computed on demand from its
 * timestamps and the clock (no timers, no scans), so 10,000 customers cost nothing while idle.
 */
export class UpgradeStore {
  private readonly customers = new Map<string, CustomerRecord>();
  private readonly upgrades = new Map<string, UpgradeRecord>();
  /** `${customerId}|${MS-RequestId}` → upgrade id: a repeated create returns the same upgrade. */
  private readonly byRequestId = new Map<string, string>();
  /** Called after an upgrade was created (persistence). */
  onChange: () => void = () => undefined;

  constructor(
    private readonly clock: SimulatorClock,
    private readonly defaultDurations: DurationSpec,
    customers: CustomerSpec[],
  ) {
    for (const spec of customers) this.addCustomer(spec);
  }

  addCustomer(spec: CustomerSpec): void {
    const key = spec.id.toLowerCase();
    const existing = this.customers.get(key);
    this.customers.set(key, { spec, upgrades: existing?.upgrades ?? [] });
  }

  get customerCount(): number {
    return this.customers.size;
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
    const latest = this.latestUpgrade(customer);
    if (latest) {
      const status = this.statusAt(latest).status;
      // A failed upgrade can be tried again: the customer is eligible once more (a choice; the docs are silent).
      if (status !== 'Failed') {
        body.isEligible = false;
        body.upgradeId = latest.id;
        body.reason =
          status === 'Completed'
            ? 'The customer has already been upgraded to an Azure plan.'
            : 'An upgrade to an Azure plan is already in progress for this customer.';
        return { status: 200, body };
      }
    }
    const reason = customer.spec.ineligibleReason;
    if (reason) {
      body.isEligible = false;
      body.reason = INELIGIBILITY[reason].text;
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
    const latest = this.latestUpgrade(customer);
    if (latest) {
      const status = this.statusAt(latest).status;
      if (status === 'Completed') return PC_ERRORS.upgradeCompleted(latest.id);
      if (status !== 'Failed') return PC_ERRORS.upgradeInProgress(latest.id);
    }
    const reason = customer.spec.ineligibleReason;
    if (reason) {
      const { code, text } = INELIGIBILITY[reason];
      return { status: 403, body: { code, description: text, data: [], source: 'PartnerFD' } };
    }
    const record = this.newUpgrade(customer, requestId, correlationId);
    if (replayKey) this.byRequestId.set(replayKey, record.id);
    this.onChange();
    return accepted(record.id);
  }

  private newUpgrade(
    customer: CustomerRecord,
    requestId: string | undefined,
    correlationId: string | undefined,
  ): UpgradeRecord {
    const spec = customer.spec;
    const key = spec.id.toLowerCase();
    customer.subscriptionIds ??= Array.from({ length: spec.legacySubscriptions ?? 1 }, (_, i) =>
      derivedGuid(`${key}/subscription/${i}`),
    );
    customer.targetId ??= derivedGuid(`${key}/azure-plan`);
    const subscriptionIds = customer.subscriptionIds;
    const durations = { ...DEFAULT_DURATIONS, ...this.defaultDurations, ...spec.durations };
    const createdAt = this.clock.now();
    const inProgressAt = createdAt + durations.pendingSeconds * 1000;
    const finishesAt = inProgressAt + durations.inProgressSeconds * 1000;
    const outcome = spec.outcome ?? 'Completed';
    const n = subscriptionIds.length;
    const failing =
      outcome === 'Failed'
        ? n
        : outcome === 'PartiallyFailed'
          ? Math.min(Math.max(spec.failedLineItems ?? Math.floor(n / 2), 1), Math.max(n - 1, 1))
          : 0;
    const lineItems = subscriptionIds.map((sourceId, i) => {
      const fails = i >= n - failing;
      // Successful line items finish one after another during InProgress; failures are known at the end.
      const doneAt = fails ? finishesAt : inProgressAt + Math.round(((i + 1) / n) * (finishesAt - inProgressAt));
      return { sourceId, fails, doneAt };
    });
    const record: UpgradeRecord = {
      id: randomUUID(),
      customerId: spec.id,
      createdAt,
      inProgressAt,
      finishesAt,
      outcome,
      targetId: customer.targetId,
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

  private statusAt(record: UpgradeRecord): UpgradeStatusView {
    const now = this.clock.now();
    const phase: UpgradeStatusValue = now < record.inProgressAt ? 'Pending' : 'InProgress';
    const finished = now >= record.finishesAt;
    const lineItems = record.lineItems.map((item): LineItemView => {
      const view: LineItemView = {
        sourceProduct: { id: item.sourceId, name: SOURCE_PRODUCT_NAME },
        targetProduct: { id: record.targetId, name: TARGET_PRODUCT_NAME },
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

  /** Restores upgrades from a state file (oldest first, so each customer's latest upgrade stays last). */
  importState(state: { upgrades: UpgradeRecord[]; requestIds: Array<[string, string]> }): void {
    const sorted = [...state.upgrades].sort((a, b) => a.createdAt - b.createdAt);
    for (const record of sorted) {
      if (this.upgrades.has(record.id)) continue;
      this.upgrades.set(record.id, record);
      this.customers.get(record.customerId.toLowerCase())?.upgrades.push(record.id);
    }
    for (const [key, id] of state.requestIds) if (this.upgrades.has(id)) this.byRequestId.set(key, id);
  }

  /** Counts per true status, for dashboards and benchmark checks. */
  statusCounts(): Record<UpgradeStatusValue, number> {
    const counts: Record<UpgradeStatusValue, number> = { Pending: 0, InProgress: 0, Completed: 0, Failed: 0 };
    for (const record of this.upgrades.values()) counts[this.statusAt(record).status]++;
    return counts;
  }
}
