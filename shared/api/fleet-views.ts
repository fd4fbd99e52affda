import { dropUndefined } from '../json';
import type { NcrontabSchedule } from '../config';
import { SCAN_PAGE_SIZE, type FleetCustomerRecord, type FleetScanRecord } from '../fleet';
import type { CallKind, ScanCounts } from '../fleet/records';
import type { CsvColumn } from '../http/csv';
import type { UpgradeStatus } from '../tracking';
import { lastErrorRepresentation, shownCategory } from './representation';

/*
 * What the fleet API shows (docs/openapi.yaml `FleetScan`, `FleetSummary`, `FleetCustomer`): allow-lists, field by
 * field, like the upgrade representation. No error text reaches an answer (a scan's or a customer's failure shows its
 * category and Partner Center's code), nor a lease, cursor or other bookkeeping of the rows.
 */

export function scanLocation(scanId: string): string {
  return `/api/fleet/scans/${scanId}`;
}

/** The calls a scan makes per customer checked (the listings are per page, counted apart). */
const PER_CUSTOMER_CALLS: readonly CallKind[] = ['subscriptions', 'agreements', 'eligibility'];
/** A customer with legacy Azure costs its subscriptions, its agreement and eligibility: no customer costs more. */
const MOST_CALLS_PER_CUSTOMER = 3;
/** Customers a scan must have checked before its own cost per customer is trusted over the last scan's. */
const OWN_RATIO_AFTER = 100;

function perCustomerCalls(counts: ScanCounts): number | undefined {
  if (counts.checked === 0) return undefined;
  return PER_CUSTOMER_CALLS.reduce((sum, kind) => sum + counts.calls[kind], 0) / counts.checked;
}

export interface ScanBudget {
  /** POLL_RATE_PER_SECOND: the background budget the scan shares with the polls. */
  ratePerSecond: number;
  /** POLL_TIME_BUDGET_SECONDS, in ms: how long one timer run works. */
  timeBudgetMs: number;
  /** POLL_SCHEDULE: when the timer runs. */
  pollSchedule: NcrontabSchedule;
}

export interface ScanEstimate {
  /** Partner Center calls the customers still to check will take, with their listing pages. */
  callsLeft: number;
  /** The calls per customer the estimate uses: this scan's so far, else the last completed scan's, else the most. */
  callsPerCustomer: number;
  /** Time the calls take at the rate, in timer runs of the time budget each. */
  secondsAtRate: number;
  timerRuns: number;
  /** Wall time left: the timer runs, spaced as the poll schedule spaces them. */
  secondsLeft: number;
  finishBy: string;
}

/**
 * When an unfinished scan is likely to end, from the rate budget and the calls still needed: the customers left (the
 * last completed scan's size less those checked; Partner Center's `totalCount` counts one page, not the list, so it
 * cannot tell) times the calls per customer, plus a listing call per page. It assumes each timer run gives the scan
 * its whole time budget (the polls come first and take their share), so it is a lower bound when many upgrades are
 * tracked. Undefined for a finished scan, or a first scan (nothing says how many customers there are).
 */
export function estimateScan(
  scan: FleetScanRecord,
  previous: FleetScanRecord | undefined,
  budget: ScanBudget,
  now: number,
): ScanEstimate | undefined {
  if (scan.state === 'completed' || scan.state === 'failed' || scan.estimatedCustomers === undefined) return undefined;
  const remaining = Math.max(0, scan.estimatedCustomers - scan.counts.checked);
  const own = perCustomerCalls(scan.counts);
  const callsPerCustomer =
    (scan.counts.checked >= OWN_RATIO_AFTER ? own : undefined) ??
    (previous ? perCustomerCalls(previous.counts) : undefined) ??
    own ??
    MOST_CALLS_PER_CUSTOMER;
  const callsLeft = Math.ceil(remaining * callsPerCustomer) + Math.ceil(remaining / SCAN_PAGE_SIZE);
  const secondsAtRate = callsLeft / budget.ratePerSecond;
  const budgetSeconds = budget.timeBudgetMs / 1000;
  const timerRuns = Math.ceil(secondsAtRate / budgetSeconds);
  const firstRun = budget.pollSchedule.next(now);
  const intervalSeconds = (budget.pollSchedule.next(firstRun) - firstRun) / 1000;
  const secondsLeft =
    timerRuns <= 1
      ? secondsAtRate
      : (timerRuns - 1) * intervalSeconds + secondsAtRate - (timerRuns - 1) * budgetSeconds;
  return {
    callsLeft,
    callsPerCustomer: Math.round(callsPerCustomer * 100) / 100,
    secondsAtRate: Math.round(secondsAtRate),
    timerRuns,
    secondsLeft: Math.round(secondsLeft),
    finishBy: new Date(now + Math.round(secondsLeft) * 1000).toISOString(),
  };
}

/** `FleetScan`: a scan's state, progress, Partner Center calls and (unfinished) its estimate. */
export function scanView(scan: FleetScanRecord, estimate?: ScanEstimate): Record<string, unknown> {
  const { counts } = scan;
  const finished = scan.state === 'completed' || scan.state === 'failed';
  const expected = scan.state === 'completed' ? counts.checked : scan.estimatedCustomers;
  const calls = { ...counts.calls, total: Object.values(counts.calls).reduce((sum, n) => sum + n, 0) };
  return dropUndefined<unknown>({
    scanId: scan.scanId,
    state: scan.state,
    trigger: scan.trigger,
    requestedAt: scan.requestedAt,
    startedAt: scan.startedAt,
    finishedAt: scan.finishedAt,
    updatedAt: scan.updatedAt,
    customers: dropUndefined({
      seen: counts.listed + (finished ? 0 : scan.doneInPage),
      checked: counts.checked,
      expected,
      remaining: expected === undefined ? undefined : Math.max(0, expected - counts.checked),
    }),
    pages: counts.pages,
    timerRuns: scan.runs,
    byState: counts.byState,
    notEligibleByReason: counts.byReason,
    partnerCenterCalls: calls,
    throttled: counts.throttled,
    upgradesHandedOver: counts.upgradesAccepted,
    estimate,
    lastError: scan.lastErrorCategory
      ? lastErrorRepresentation(scan.lastErrorCategory, scan.lastErrorCode, scan.lastErrorAt ?? scan.updatedAt)
      : scan.lastError
        ? // A scan stored before errors kept their category: its text is not shown.
          lastErrorRepresentation('internal', undefined, scan.lastErrorAt ?? scan.updatedAt)
        : undefined,
  });
}

/** A scan in one line: where to read it. */
export function scanLink(scan: FleetScanRecord): Record<string, unknown> {
  return { scanId: scan.scanId, state: scan.state, href: scanLocation(scan.scanId) };
}

/** The states a customer with legacy Azure is in: what is left to move. */
const LEGACY_STATES = ['eligible', 'not-eligible', 'upgrade-in-progress'] as const;

/**
 * `FleetSummary`. The fleet's figures are the counts the last completed scan wrote with its rows (one row read, not
 * one per customer); the upgrades' are what the tracking recorded, counted by status (one small column per upgrade).
 */
export function summaryView(
  completed: FleetScanRecord | undefined,
  current: FleetScanRecord | undefined,
  upgrades: Partial<Record<UpgradeStatus, number>>,
): Record<string, unknown> {
  const count = (...statuses: UpgradeStatus[]) => statuses.reduce((sum, s) => sum + (upgrades[s] ?? 0), 0);
  let fleet: Record<string, unknown> | undefined;
  if (completed) {
    const { byState, byReason, checked } = completed.counts;
    fleet = {
      scanId: completed.scanId,
      scannedAt: completed.finishedAt ?? completed.updatedAt,
      customers: checked,
      onAzurePlan: byState['on-azure-plan'] ?? 0,
      legacyRemaining: LEGACY_STATES.reduce((sum, state) => sum + (byState[state] ?? 0), 0),
      eligible: byState.eligible ?? 0,
      notEligible: byState['not-eligible'] ?? 0,
      notEligibleByReason: byReason,
      upgradeInProgress: byState['upgrade-in-progress'] ?? 0,
      byState,
    };
  }
  return dropUndefined<unknown>({
    fleet,
    upgrades: {
      inProgress: count('Pending', 'InProgress', 'Unknown'),
      completed: count('Completed'),
      failed: count('Failed'),
      cancelled: count('Cancelled'),
      stale: count('Stale'),
    },
    scan: current ? scanLink(current) : undefined,
  });
}

/** `FleetCustomer`: one customer as the listing and the CSV show it (the CSV's columns, in this order). */
export interface FleetCustomerView {
  customerId: string;
  companyName?: string;
  domain?: string;
  relationship?: string;
  state: string;
  reason?: string;
  partnerCenterCode?: number;
  upgradeId?: string;
  nextStep: string;
  legacySubscriptions: number;
  resellers: string[];
  agreement: string;
  failedCall?: string;
  failureCategory?: string;
  failureCode?: number;
  scanId: string;
  scannedAt: string;
}

/**
 * The next step as shown: a failed check's is said again without the error's text (the row keeps it for operators),
 * naming the call, the kind of failure and Partner Center's code.
 */
function shownNextStep(row: FleetCustomerRecord): string {
  if (row.state !== 'check-failed' || !row.failure) return row.nextStep;
  const { call, category, code } = row.failure;
  return `Partner Center's ${call} call failed (${shownCategory(category)}${code === undefined ? '' : `, code ${code}`}); the next scan checks this customer again.`;
}

export function customerView(row: FleetCustomerRecord): FleetCustomerView {
  return dropUndefined<unknown>({
    customerId: row.customerId,
    companyName: row.companyName,
    domain: row.domain,
    relationship: row.relationship,
    state: row.state,
    reason: row.reason,
    partnerCenterCode: row.code,
    upgradeId: row.upgradeId,
    nextStep: shownNextStep(row),
    legacySubscriptions: row.legacyCount,
    resellers: row.resellers,
    agreement: row.agreement,
    failedCall: row.failure?.call,
    failureCategory: row.failure && shownCategory(row.failure.category),
    failureCode: row.failure?.code,
    scanId: row.scanId,
    scannedAt: row.scannedAt,
  }) as unknown as FleetCustomerView;
}

/** The CSV's columns: the JSON listing's fields, in order, the resellers space-separated. */
export const CUSTOMER_CSV_COLUMNS: CsvColumn<FleetCustomerView>[] = (
  [
    'customerId',
    'companyName',
    'domain',
    'relationship',
    'state',
    'reason',
    'partnerCenterCode',
    'upgradeId',
    'nextStep',
    'legacySubscriptions',
    'resellers',
    'agreement',
    'failedCall',
    'failureCategory',
    'failureCode',
    'scanId',
    'scannedAt',
  ] as const satisfies readonly (keyof FleetCustomerView)[]
).map((field) => ({
  header: field,
  value: (view: FleetCustomerView) => {
    const value = view[field];
    return Array.isArray(value) ? value.join(' ') : value;
  },
}));
