import { compareWithGroundTruth } from '../../dev/demo/ground-truth';
import { runJourney, type JourneyResult } from '../../dev/demo/journey';
import { generateScenario, type Scenario } from '../../dev/simulator';
import { startHostedStack, type HostedStack } from '../../dev/stack';
import { QUEUES } from '../../shared/storage/names';
import { openApiViolations } from '../helpers/openapi';
import { latestPollRuns, listRejectedMessages } from '../helpers/tracking-tables';

const CUSTOMERS = 200;
/**
 * Simulated time runs 300x: Pending 6-60 s and InProgress 1-50 min become 20-200 ms and 0.2-10 s of real time, so
 * the upgrades started first are final at the first poll and the last ones are still moving (Pending/InProgress
 * observed, then final).
 */
const scenario: Scenario = generateScenario({
  customers: CUSTOMERS,
  seed: 4,
  speed: 300,
  pendingSeconds: { min: 6, max: 60 },
  inProgressSeconds: { min: 60, max: 3000 },
  name: 'e2e-200',
});

/**
 * End to end on the local stack: 200 customers of mixed kinds through the eligibility webhook, an upgrade started
 * for each eligible one (webhook → queue → startTracking), poll runs through the admin API until every upgrade is
 * final; then the tables, through the read API and the TrackingStore, must match the simulator's ground truth
 * exactly: none lost, none invented, statuses, line items and history.
 */
describe('end to end: 200 customers to their final state', () => {
  let stack: HostedStack;
  let result: JourneyResult;

  beforeAll(async () => {
    // The app's Partner Center client logs its token refreshes and retries; jest's console makes each line costly.
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      jest.spyOn(console, method).mockImplementation(() => undefined);
    }
    stack = await startHostedStack({
      tablePrefix: 'e2e',
      simulator: {
        scenario,
        // Partner Center's per-partner limit, scaled to the test: the poller must stay under it (or pause on 429).
        rateLimits: { perPartner: { ratePerSecond: 300, burst: 100 } },
      },
      settings: {
        PARTNER_CENTER_TIMEOUT_SECONDS: '5',
        PARTNER_CENTER_MAX_ATTEMPTS: '2',
        POLL_FIRST_DELAY_SECONDS: '0',
        POLL_MIN_INTERVAL_SECONDS: '2',
        POLL_MAX_INTERVAL_SECONDS: '4',
        POLL_CONCURRENCY: '16',
        POLL_RATE_PER_SECOND: '200',
        POLL_TIME_BUDGET_SECONDS: '20',
      },
    });
    result = await runJourney({
      apiUrl: `${stack.host.url}/api`,
      customerIds: scenario.customers.map((c) => c.id),
      runPoll: () => stack.runByAdmin('pollUpgrades'),
      sign: stack.signedHeaders,
      concurrency: 12,
      pollDeadlineMs: 40_000,
      pollWhileStarting: true,
      pollPauseMs: 500,
      // E2E_LOG=1 shows the journey's progress and timings (quiet by default).
      log: process.env.E2E_LOG ? (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) : undefined,
    });
    if (process.env.E2E_LOG) {
      process.stderr.write(`durations ${JSON.stringify(result.durationsMs)}, poll runs ${result.pollRuns}\n`);
    }
  }, 150_000);
  afterAll(async () => stack?.stop());

  it('eligibility answers match each customer kind', () => {
    expect(result.eligibility.size).toBe(CUSTOMERS);
    for (const customer of scenario.customers) {
      expect({ id: customer.id, isEligible: result.eligibility.get(customer.id)?.isEligible }).toEqual({
        id: customer.id,
        isEligible: customer.ineligibleReason === undefined,
      });
    }
    const kinds = new Set(scenario.customers.map((c) => c.ineligibleReason ?? c.outcome));
    expect(kinds.size).toBeGreaterThanOrEqual(7); // 4 ineligibility reasons + 3 outcomes
  });

  it('every eligible customer got exactly one upgrade in Partner Center, and every upgrade reached a final state', () => {
    const eligible = scenario.customers.filter((c) => c.ineligibleReason === undefined);
    expect(result.started.size).toBe(eligible.length);
    const truths = stack.sim.state.listUpgrades();
    expect(truths).toHaveLength(eligible.length);
    expect(new Set(truths.map((t) => t.customerId))).toEqual(new Set(eligible.map((c) => c.id)));
    expect(result.allFinal).toBe(true);
    expect(truths.every((t) => t.status === 'Completed' || t.status === 'Failed')).toBe(true);
  });

  it('the read API matches the ground truth exactly: none lost, none invented, statuses, line items, history', () => {
    const report = compareWithGroundTruth(stack.sim.state.listUpgrades(), result.tracked);
    expect(report.unknown).toEqual([]);
    expect(Object.fromEntries(report.differing)).toEqual({});
    expect(report.checked).toBe(result.tracked.size);
    // Outcomes of every kind went through: partial failures keep their completed line items.
    const statuses = new Set([...result.tracked.values()].map((u) => u.status));
    expect(statuses).toEqual(new Set(['Completed', 'Failed']));
    // Every detail the read API gave (completed, failed, partly failed with error details) is as documented.
    for (const upgrade of result.tracked.values()) {
      const response = { status: 200, headers: { 'content-type': 'application/json' }, body: upgrade };
      expect({
        id: upgrade.upgradeId,
        violations: openApiViolations('GET', '/upgrades/{upgradeId}', response),
      }).toEqual({
        id: upgrade.upgradeId,
        violations: [],
      });
    }
    // The upgrades started last were still moving at the first poll: their history shows the way to the end.
    const observedMoving = [...result.tracked.values()].filter((u) => u.history.length > 1);
    expect(observedMoving.length).toBeGreaterThan(0);
  });

  it('the TrackingStore agrees with the ground truth: final, out of the schedule, the true path in its history', async () => {
    const store = stack.services.tracking;
    for (const truth of stack.sim.state.listUpgrades()) {
      const view = await store.getUpgrade(truth.id);
      expect(view).toBeDefined();
      // The statuses the history went through (a line-item change while InProgress repeats a status).
      const path: string[] = view!.history.map((h) => h.status).filter((status, i, all) => status !== all[i - 1]);
      // Partner Center's own path for this upgrade: Pending, InProgress, then its outcome. The history may have
      // missed a step between two polls, but holds nothing else, in no other order, and ends at the outcome.
      const truePath: string[] = ['Pending', 'InProgress', truth.status];
      expect({
        id: truth.id,
        status: view!.status,
        rawStatus: view!.rawStatus,
        scheduleKey: view!.scheduleKey,
        path,
        lastObservedLineItems: view!.history.at(-1)?.lineItemCount,
        attempts: view!.attempts,
      }).toEqual({
        id: truth.id,
        status: truth.status,
        rawStatus: truth.status,
        scheduleKey: '',
        path: truePath.filter((status) => path.includes(status)),
        lastObservedLineItems: truth.lineItems.length,
        attempts: 0,
      });
      expect(path.at(-1)).toBe(truth.status);
      // Every history row the upgrade row counts is there (committed with it in one transaction).
      expect(view!.history.map((h) => h.sequence)).toEqual(Array.from({ length: view!.historySeq }, (_, i) => i + 1));
    }
    const runs = await latestPollRuns(stack.services.tables, 1);
    expect(runs).toHaveLength(1);
    // startTracking started each upgrade's tracking once, from the message its start sent: every started upgrade is
    // tracked (above), no message was refused, and every delivery ended well. A delivery beyond one per upgrade came
    // only from a start that was retried (a retried start sends the message again).
    expect(await listRejectedMessages(stack.services.tables, QUEUES.upgradeTracking)).toEqual([]);
    const deliveries = stack.invocations.filter((i) => i.functionName === 'startTracking');
    expect(deliveries.filter((i) => i.outcome !== 'Succeeded')).toEqual([]);
    expect(deliveries.length).toBeGreaterThanOrEqual(result.started.size);
    expect(deliveries.length - result.started.size).toBeLessThanOrEqual(result.retriedCalls);
  });
});
