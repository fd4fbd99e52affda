import { customerView, estimateScan, scanView, summaryView } from '../../../shared/api/fleet-views';
import { parseNcrontab } from '../../../shared/config';
import { emptyCounts, type FleetCustomerRecord, type FleetScanRecord } from '../../../shared/fleet/records';

const T0 = Date.parse('2026-05-01T01:02:00.000Z');
const everyFiveMinutes = parseNcrontab('0 */5 * * * *');
const budget = { ratePerSecond: 10, timeBudgetMs: 240_000, pollSchedule: everyFiveMinutes };

function scan(
  overrides: Partial<FleetScanRecord> = {},
  counts: Partial<FleetScanRecord['counts']> = {},
): FleetScanRecord {
  return {
    scanId: '11111111-1111-4111-8111-111111111111',
    state: 'running',
    trigger: 'schedule',
    requestedAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    page: 0,
    doneInPage: 0,
    counts: { ...emptyCounts(), ...counts },
    runs: 1,
    ...overrides,
  };
}

/** Counts of a scan that checked `checked` customers at `perCustomer` calls each. */
function spent(checked: number, perCustomer: number): Partial<FleetScanRecord['counts']> {
  const calls = Math.round(checked * perCustomer);
  return {
    checked,
    calls: { customers: 1, usageRecords: 1, subscriptions: calls, agreements: 0, eligibility: 0 },
  };
}

describe('estimateScan: when an unfinished scan should end', () => {
  it('is the calls left at the rate, in timer runs of the time budget, spaced as the poll schedule', () => {
    const estimate = estimateScan(
      scan({ estimatedCustomers: 10_000 }),
      scan({ state: 'completed' }, spent(9_000, 1.5)),
      budget,
      T0,
    );
    // 10,000 customers x 1.5 calls + 20 listing pages = 15,020 calls = 1,502 s at 10/s = 7 runs of 240 s;
    // six 5-minute intervals, then 62 s of the seventh run.
    expect(estimate).toEqual({
      callsLeft: 15_020,
      callsPerCustomer: 1.5,
      secondsAtRate: 1_502,
      timerRuns: 7,
      secondsLeft: 6 * 300 + 62,
      finishBy: new Date(T0 + (6 * 300 + 62) * 1000).toISOString(),
    });
  });

  it('counts what is left once the scan has checked some customers, at its own cost per customer after 100', () => {
    const previous = scan({ state: 'completed' }, spent(1_000, 1.5));
    const early = estimateScan(scan({ estimatedCustomers: 1_000 }, spent(50, 3)), previous, budget, T0)!;
    expect(early).toMatchObject({ callsPerCustomer: 1.5, callsLeft: Math.ceil(950 * 1.5) + 2 });
    const later = estimateScan(scan({ estimatedCustomers: 1_000 }, spent(500, 2)), previous, budget, T0)!;
    expect(later).toMatchObject({ callsPerCustomer: 2, callsLeft: 500 * 2 + 1, timerRuns: 1, secondsLeft: 100 });
  });

  it('without an earlier scan: its own cost so far, else the most a customer can cost (3 calls)', () => {
    expect(estimateScan(scan({ estimatedCustomers: 100 }, spent(10, 2)), undefined, budget, T0)).toMatchObject({
      callsPerCustomer: 2,
    });
    expect(estimateScan(scan({ estimatedCustomers: 100 }), undefined, budget, T0)).toMatchObject({
      callsPerCustomer: 3,
      callsLeft: 301,
    });
  });

  it('says nothing of a finished scan, or of one whose size nothing tells', () => {
    expect(estimateScan(scan({ state: 'completed', estimatedCustomers: 10 }), undefined, budget, T0)).toBeUndefined();
    expect(estimateScan(scan({ state: 'failed', estimatedCustomers: 10 }), undefined, budget, T0)).toBeUndefined();
    expect(estimateScan(scan(), undefined, budget, T0)).toBeUndefined();
  });
});

describe('what the fleet API shows', () => {
  const secretText = 'transient HTTP 503: vault kv-contoso.vault.azure.net said PARTNER_CENTER_REFRESH_TOKEN';

  it('a scan: its last error as a category and code, never its text', () => {
    const view = scanView(
      scan({ lastError: secretText, lastErrorCategory: 'transient', lastErrorCode: 503, lastErrorAt: 'at' }),
    );
    expect(view.lastError).toEqual({ category: 'transient', code: 503, at: 'at' });
    expect(JSON.stringify(view)).not.toContain('vault');
    // A row from before categories were kept, or a category nobody documented: `internal`.
    expect(scanView(scan({ lastError: secretText, lastErrorAt: 'at' })).lastError).toEqual({
      category: 'internal',
      at: 'at',
    });
    expect(scanView(scan({ lastError: 'x', lastErrorCategory: 'odd', lastErrorAt: 'at' })).lastError).toEqual({
      category: 'internal',
      at: 'at',
    });
    expect(JSON.stringify(scanView(scan({ lease: { owner: 'run-1', until: T0 } })))).not.toContain('run-1');
  });

  it('a scan: customers seen, checked, expected and remaining', () => {
    const running = scanView(scan({ estimatedCustomers: 1_200, doneInPage: 40 }, { listed: 500, checked: 540 }));
    expect(running.customers).toEqual({ seen: 540, checked: 540, expected: 1_200, remaining: 660 });
    const done = scanView(scan({ state: 'completed', estimatedCustomers: 1_200 }, { listed: 1_190, checked: 1_190 }));
    expect(done.customers).toEqual({ seen: 1_190, checked: 1_190, expected: 1_190, remaining: 0 });
  });

  it('a failed check: the call, the category and the code, its error text kept out', () => {
    const row: FleetCustomerRecord = {
      customerId: 'c-1',
      usage: 'legacy',
      subscriptionsRead: false,
      legacySubscriptions: [],
      legacyCount: 0,
      azurePlans: [],
      resellers: [],
      agreement: 'not-checked',
      state: 'check-failed',
      nextStep: `Partner Center's subscriptions call failed (${secretText}); the next scan checks this customer again.`,
      failure: { call: 'subscriptions', category: 'transient', error: secretText, code: 503 },
      scanId: 'scan-1',
      scanPage: 0,
      scannedAt: 'at',
    };
    const view = customerView(row);
    expect(view).toMatchObject({ failedCall: 'subscriptions', failureCategory: 'transient', failureCode: 503 });
    expect(view.nextStep).toBe(
      "Partner Center's subscriptions call failed (transient, code 503); the next scan checks this customer again.",
    );
    expect(JSON.stringify(view)).not.toContain('vault');
  });

  it('the summary: fleet figures only from a completed scan; upgrades by status', () => {
    const completed = scan(
      { state: 'completed', finishedAt: 'done' },
      {
        checked: 10,
        byState: { 'on-azure-plan': 4, eligible: 2, 'not-eligible': 2, 'upgrade-in-progress': 1, advisor: 1 },
        byReason: { 'suspended-subscriptions': 2 },
      },
    );
    const view = summaryView(completed, scan(), { Pending: 1, InProgress: 2, Unknown: 1, Completed: 5, Stale: 1 });
    expect(view).toMatchObject({
      fleet: { customers: 10, onAzurePlan: 4, legacyRemaining: 5, eligible: 2, notEligible: 2, upgradeInProgress: 1 },
      upgrades: { inProgress: 4, completed: 5, failed: 0, cancelled: 0, stale: 1 },
      scan: { state: 'running' },
    });
    expect(summaryView(undefined, undefined, {})).toEqual({
      upgrades: { inProgress: 0, completed: 0, failed: 0, cancelled: 0, stale: 0 },
    });
  });
});
