import { randomUUID } from 'node:crypto';
import {
  startSimulator,
  steppedClock,
  type CustomerTruth,
  type PagingSpec,
  type RunningSimulator,
  type Scenario,
  type SimulatorOptions,
} from '../../../dev/simulator';
import { parseNcrontab } from '../../../shared/config';
import { FleetStore, runFleetScanStep, TriageCache, type FleetCustomerRecord } from '../../../shared/fleet';
import type { CallKind } from '../../../shared/fleet/records';
import type { ScanStepOptions, ScanStepResult } from '../../../shared/fleet/scan-run';
import {
  PartnerCenterClient,
  SecureAppModelCredential,
  type CallOptions,
  type CustomerDirectory,
  type ProductUpgradeRequest,
  type ProductUpgrades,
} from '../../../shared/partner-center';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { RequestGate } from '../../../shared/tracking/request-gate';
import { TrackingStore } from '../../../shared/tracking/store';
import type { Tables } from '../../../shared/storage/tables';
import { MemorySecretStore } from '../../helpers/memory-secret-store';
import { RecordingTracker, testTables } from '../tracking/helpers';

/** The simulated partner, on a stepped clock that never moves unless a test moves it. */
export function fleetSimulator(
  scenario: Scenario,
  paging: PagingSpec = {},
  options: Pick<SimulatorOptions, 'log' | 'quiet'> = {},
): Promise<RunningSimulator> {
  return startSimulator({ clock: steppedClock('2026-03-01T00:00:00Z'), scenario: { ...scenario, paging }, ...options });
}

/** The real Partner Center client against the simulator, with short retry delays. */
export function simulatorClient(sim: RunningSimulator): PartnerCenterClient {
  const secrets = new MemorySecretStore({
    PARTNER_CENTER_CLIENT_SECRET: sim.credentials.clientSecret,
    PARTNER_CENTER_REFRESH_TOKEN: sim.credentials.refreshToken,
  });
  return new PartnerCenterClient({
    baseUrl: sim.url,
    credential: new SecureAppModelCredential({
      tenantId: sim.credentials.tenantId,
      clientId: sim.credentials.clientId,
      authorityHost: sim.url,
      secretStore: secrets,
    }),
    applicationName: 'fleet-scan-tests',
    attemptTimeoutMs: 10_000,
    maxAttempts: 3,
    retryDelay: { baseMs: 5, maxMs: 20 },
  });
}

/**
 * The real client, with every call it is asked to make counted per customer and kind (instrumentation only: each
 * call goes to the simulator as it is).
 */
export class CountingPartnerCenter implements ProductUpgrades, CustomerDirectory {
  readonly calls = new Map<string, Partial<Record<CallKind, number>>>();
  readonly totals: Record<CallKind, number> = {
    customers: 0,
    usageRecords: 0,
    subscriptions: 0,
    agreements: 0,
    eligibility: 0,
  };

  constructor(readonly inner: PartnerCenterClient) {}

  private count(kind: CallKind, customerId?: string): void {
    this.totals[kind]++;
    if (customerId === undefined) return;
    const key = customerId.toLowerCase();
    const perCustomer = this.calls.get(key) ?? {};
    perCustomer[kind] = (perCustomer[kind] ?? 0) + 1;
    this.calls.set(key, perCustomer);
  }

  of(customerId: string, kind: CallKind): number {
    return this.calls.get(customerId.toLowerCase())?.[kind] ?? 0;
  }

  /** Customer id → the MS-RequestId of every create asked for it, in order. */
  readonly creates = new Map<string, string[]>();

  createsOf(customerId: string): string[] {
    return this.creates.get(customerId.toLowerCase()) ?? [];
  }

  checkEligibility(request: ProductUpgradeRequest, options?: CallOptions) {
    this.count('eligibility', request.customerId);
    return this.inner.checkEligibility(request, options);
  }
  createUpgrade(...args: Parameters<ProductUpgrades['createUpgrade']>) {
    const [request, options] = args;
    const key = request.customerId.toLowerCase();
    this.creates.set(key, [...this.createsOf(key), options?.requestId ?? '(none)']);
    return this.inner.createUpgrade(...args);
  }
  getUpgradeStatus(...args: Parameters<ProductUpgrades['getUpgradeStatus']>) {
    return this.inner.getUpgradeStatus(...args);
  }
  listCustomers(...args: Parameters<CustomerDirectory['listCustomers']>) {
    this.count('customers');
    return this.inner.listCustomers(...args);
  }
  listUsageRecords(...args: Parameters<CustomerDirectory['listUsageRecords']>) {
    this.count('usageRecords');
    return this.inner.listUsageRecords(...args);
  }
  getCustomerSubscriptions(customerId: string, options?: CallOptions & { resellerMpnId?: string }) {
    this.count('subscriptions', customerId);
    return this.inner.getCustomerSubscriptions(customerId, options);
  }
  getCustomerAgreements(customerId: string, options?: CallOptions) {
    this.count('agreements', customerId);
    return this.inner.getCustomerAgreements(customerId, options);
  }
}

export interface ScanStack {
  sim: RunningSimulator;
  tables: Tables;
  store: FleetStore;
  tracking: TrackingStore;
  tracker: RecordingTracker;
  partnerCenter: CountingPartnerCenter;
  telemetry: RecordingTelemetry;
  triage: TriageCache;
}

export function scanStack(label: string, sim: RunningSimulator, tables: Tables = testTables(label)): ScanStack {
  return {
    sim,
    tables,
    store: new FleetStore(tables),
    tracking: new TrackingStore(tables),
    tracker: new RecordingTracker(),
    partnerCenter: new CountingPartnerCenter(simulatorClient(sim)),
    telemetry: new RecordingTelemetry(),
    triage: new TriageCache(),
  };
}

/** The scan step as the timer run calls it, against the stack (a fast gate and a long budget unless told). */
export function scanStep(stack: ScanStack, overrides: Partial<ScanStepOptions> = {}): Promise<ScanStepResult> {
  const clock = overrides.clock ?? (() => performance.now());
  return runFleetScanStep({
    store: stack.store,
    directory: stack.partnerCenter,
    upgrades: stack.partnerCenter,
    accept: { store: stack.tracking, send: stack.tracker.send },
    telemetry: stack.telemetry,
    schedule: parseNcrontab('0 0 2 * * *'),
    gate: new RequestGate(1000, clock),
    clock,
    deadline: clock() + 600_000,
    concurrency: 8,
    triage: stack.triage,
    ...overrides,
  });
}

/** Every customer row, by customer id. */
export async function fleetRows(store: FleetStore): Promise<Map<string, FleetCustomerRecord>> {
  const rows = new Map<string, FleetCustomerRecord>();
  for await (const row of store.customers()) rows.set(row.customerId, row);
  return rows;
}

/** Every customer's ground truth, in listing order. */
export function truths(sim: RunningSimulator): CustomerTruth[] {
  return sim.state.customerTruths(0, sim.state.customerCount);
}

/** The state (and reason) a customer's ground truth calls for. */
export function expectedMeaning(truth: CustomerTruth): { state: string; reason?: string; upgradeId?: string } {
  if (truth.relationship === 'advisor') return { state: 'advisor' };
  const { isEligible, reason, upgradeId } = truth.eligibility;
  if (isEligible) return { state: 'eligible' };
  switch (reason) {
    case 'noAzureSubscriptions':
      return { state: 'no-azure' };
    case 'alreadyUpgraded':
      return { state: 'on-azure-plan' };
    case 'upgradeInProgress':
      return { state: 'upgrade-in-progress', upgradeId };
    case 'suspendedSubscriptions':
      return { state: 'not-eligible', reason: 'suspended-subscriptions' };
    case 'noCustomerAgreement':
      return { state: 'not-eligible', reason: 'no-customer-agreement' };
    case 'boughtRecently':
      return { state: 'not-eligible', reason: 'bought-recently' };
    case 'azurePartnerSharedServices':
      return { state: 'not-eligible', reason: 'partner-shared-services' };
    default:
      return { state: `unexpected truth reason ${reason}` };
  }
}

function sortedById<T extends { id: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Where the rows disagree with the simulator's ground truth, customer by customer: state and reason (and the upgrade
 * id), the legacy subscriptions (id, Azure subscription id, status, reseller of record), and the customer agreement
 * wherever the scan read or inferred it — which it must for every customer with Azure.
 */
export function truthDiff(all: CustomerTruth[], rows: Map<string, FleetCustomerRecord>): string[] {
  const problems: string[] = [];
  for (const truth of all) {
    const row = rows.get(truth.id);
    if (!row) {
      problems.push(`${truth.id}: no row`);
      continue;
    }
    const expected = expectedMeaning(truth);
    const actual = {
      state: row.state,
      ...(row.reason ? { reason: row.reason } : {}),
      ...(row.upgradeId ? { upgradeId: row.upgradeId } : {}),
    };
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      problems.push(`${truth.id}: ${JSON.stringify(actual)} but the truth says ${JSON.stringify(expected)}`);
    }
    const ours = sortedById(
      row.legacySubscriptions.map(({ id, entitlementId, status, partnerId }) => ({
        id,
        entitlementId,
        status,
        ...(partnerId ? { partnerId } : {}),
      })),
    );
    const theirs = sortedById(truth.legacySubscriptions);
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
      problems.push(`${truth.id}: legacy ${JSON.stringify(ours)} but the truth says ${JSON.stringify(theirs)}`);
    }
    const hasAzure = truth.legacySubscriptions.length > 0 || truth.onAzurePlan;
    if (truth.relationship !== 'advisor' && hasAzure && row.agreement === 'not-checked') {
      problems.push(`${truth.id}: the agreement of a customer with Azure was not checked`);
    }
    if (row.agreement !== 'not-checked' && (row.agreement !== 'not-attested') !== truth.agreementAttested) {
      problems.push(`${truth.id}: agreement ${row.agreement} but the truth says ${truth.agreementAttested}`);
    }
  }
  const known = new Set(all.map((t) => t.id));
  for (const id of rows.keys())
    if (!known.has(id)) problems.push(`${id}: a row for a customer Partner Center does not list`);
  return problems;
}

/**
 * A row an older scan wrote, like `like` but for a new customer id, whom the last completed scan did not list; the
 * new id. Written through the scan slot's update (the slot unchanged), as a scan writes its rows.
 */
export async function unlistedCustomer(store: FleetStore, like: FleetCustomerRecord): Promise<string> {
  const ghost = randomUUID();
  await store.updateSlot((current) => ({
    result: undefined,
    write: current,
    customers: [{ ...like, customerId: ghost, scanId: randomUUID(), scannedAt: '2020-01-01T00:00:00.000Z' }],
  }));
  return ghost;
}
