import {
  generateFleetScenario,
  type ContinuationPlacement,
  type NextLinkForm,
  type RunningSimulator,
} from '../../../dev/simulator';
import { requestFleetScan, TriageCache } from '../../../shared/fleet';
import { decideRequest } from '../../../shared/fleet/scan-state';
import { trackingRows } from '../tracking/helpers';
import { expectedMeaning, fleetRows, fleetSimulator, scanStack, scanStep, truthDiff, truths } from './helpers';

/**
 * The fleet scan against the simulator over loopback HTTP and real Azurite: generated customers of every kind scanned,
 * then compared with the simulator's ground truth customer by customer, with the paging pitfalls on; a scan spread over
 * many runs; one scan at a time; failures of one customer, of the credentials, and of the listing.
 */

jest.setTimeout(300_000);

/** Runs scan steps until the scan is finished (at most `maxRuns`); the results of each. */
async function scanToEnd(step: () => ReturnType<typeof scanStep>, maxRuns = 200) {
  const results = [];
  for (let i = 0; i < maxRuns; i++) {
    const result = await step();
    results.push(result);
    if (result.outcome === 'worked' && (result.state === 'completed' || result.state === 'failed')) break;
  }
  return results;
}

/** The calls a customer costs when its state is known without asking eligibility. */
const KNOWN_WITHOUT_ELIGIBILITY: Record<string, { subscriptions: number; agreements: number; eligibility: number }> = {
  advisor: { subscriptions: 0, agreements: 0, eligibility: 0 },
  'no-azure': { subscriptions: 0, agreements: 0, eligibility: 0 },
  'on-azure-plan': { subscriptions: 1, agreements: 0, eligibility: 0 },
};

describe('a scan of 2,000 generated customers', () => {
  let sim: RunningSimulator;
  afterAll(async () => sim?.close());

  it('equals the ground truth customer by customer, asks only what is not known, and hands existing upgrades to the tracking', async () => {
    sim = await fleetSimulator(generateFleetScenario({ customers: 2_000, seed: 21 }), {
      maxPageSize: 250,
      nextLink: 'root',
      continuation: 'headerAndBody',
      endWithError2000: true,
    });
    const stack = scanStack('fleet2k', sim);
    const requested = await requestFleetScan(stack.store);
    expect(requested.outcome).toBe('created');
    const started = performance.now();
    const heapBefore = process.memoryUsage().heapUsed;
    const result = await scanStep(stack);
    const seconds = (performance.now() - started) / 1000;
    expect(result).toMatchObject({ outcome: 'worked', state: 'completed', checked: 2_000 });
    const all = truths(sim);
    const rows = await fleetRows(stack.store);
    expect(truthDiff(all, rows)).toEqual([]);

    // Only what is not known is asked: nothing of an advisor or of a customer without Azure, only the subscriptions
    // of one on an Azure plan, and each call at most once per customer.
    const pc = stack.partnerCenter;
    const asked = (id: string) => ({
      subscriptions: pc.of(id, 'subscriptions'),
      agreements: pc.of(id, 'agreements'),
      eligibility: pc.of(id, 'eligibility'),
    });
    const perKind = new Map<string, { customers: number; calls: number }>();
    for (const truth of all) {
      const { state } = expectedMeaning(truth);
      const calls = asked(truth.id);
      const kind = perKind.get(state) ?? { customers: 0, calls: 0 };
      kind.customers++;
      kind.calls += calls.subscriptions + calls.agreements + calls.eligibility;
      perKind.set(state, kind);
      const known = KNOWN_WITHOUT_ELIGIBILITY[state];
      if (known) {
        expect({ id: truth.id, state, calls }).toEqual({ id: truth.id, state, calls: known });
      } else {
        expect({ id: truth.id, state, eligibility: calls.eligibility, subscriptions: calls.subscriptions }).toEqual({
          id: truth.id,
          state,
          eligibility: 1,
          subscriptions: 1,
        });
        expect(calls.agreements).toBeLessThanOrEqual(1);
      }
    }
    // Every kind the ground truth has appears, with the pitfalls of this listing (code-2000 end, capped pages).
    expect([...perKind.keys()].sort()).toEqual([
      'advisor',
      'eligible',
      'no-azure',
      'not-eligible',
      'on-azure-plan',
      'upgrade-in-progress',
    ]);
    expect(stack.sim.state.counters().requests.customers.byStatus['400']).toBe(1); // the code-2000 end

    // Every upgrade Partner Center named is recorded for tracking, and its tracking message sent.
    const inProgress = [...rows.values()].filter((row) => row.state === 'upgrade-in-progress');
    expect(inProgress.length).toBeGreaterThan(0);
    const upgradeRows = await trackingRows(stack.tables, 'u');
    expect(new Set(upgradeRows.map((r) => r.upgradeId))).toEqual(new Set(inProgress.map((r) => r.upgradeId)));
    expect(upgradeRows.every((r) => r.source === 'fleet-scan')).toBe(true);
    expect(new Set(stack.tracker.sent.map((m) => m.upgradeId))).toEqual(new Set(inProgress.map((r) => r.upgradeId)));

    // The scan's counts agree with its rows, and the run reported them.
    const slot = await stack.store.readSlot();
    expect(slot?.scan?.counts).toMatchObject({
      checked: 2_000,
      listed: 2_000,
      upgradesAccepted: inProgress.length,
      calls: stack.partnerCenter.totals,
    });
    const byState: Record<string, number> = {};
    for (const row of rows.values()) byState[row.state] = (byState[row.state] ?? 0) + 1;
    expect(slot?.scan?.counts.byState).toEqual(byState);
    const [past] = await stack.store.listPastScans(1);
    expect(past).toMatchObject({ scanId: requested.scan.scanId, state: 'completed' });
    const events = stack.telemetry.events.map((e) => e.name);
    expect(events).toEqual(['FleetScanStarted', 'FleetScanProgress', 'FleetScanCompleted']);
    expect(stack.telemetry.events[2].measurements).toMatchObject({
      checked: 2_000,
      'state:eligible': byState.eligible,
    });

    const totals = stack.partnerCenter.totals;
    const calls = Object.values(totals).reduce((a, b) => a + b, 0);
    const lines = [...perKind.entries()]
      .sort()
      .map(([state, k]) => `${state} ${k.customers} customers, ${(k.calls / k.customers).toFixed(2)} calls each`);
    console.log(
      `[fleet] 2,000 customers scanned in ${seconds.toFixed(1)} s (rate unlimited), ${calls} Partner Center calls ` +
        `(${(calls / 2_000).toFixed(2)} per customer: ${JSON.stringify(totals)}); heap of the test process ` +
        `(simulator and Azurite in it) ${(heapBefore / 2 ** 20).toFixed(0)} → ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB` +
        `\n  ${lines.join('\n  ')}`,
    );
  });
});

describe('every link form and placement of the continuation token', () => {
  const forms: NextLinkForm[] = ['v1', 'root', 'relative', 'absolute'];
  const placements: ContinuationPlacement[] = ['header', 'headerAndBody', 'bodyOnly'];
  const cases = forms.flatMap((nextLink) =>
    placements.map((continuation) => ({ nextLink, continuation, endWithError2000: nextLink === 'relative' })),
  );
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await fleetSimulator(generateFleetScenario({ customers: 45, seed: 8 }));
  });
  afterAll(async () => sim?.close());

  it.each(cases)(
    'next links $nextLink, the token in $continuation, code-2000 end $endWithError2000: every customer as the ground truth says',
    async (paging) => {
      sim.setPaging({ ...paging, maxPageSize: 7, defaultPageSize: 6 });
      const stack = scanStack('fleetlinks', sim);
      await requestFleetScan(stack.store);
      const result = await scanStep(stack);
      expect(result).toMatchObject({ outcome: 'worked', state: 'completed', checked: 45 });
      expect(truthDiff(truths(sim), await fleetRows(stack.store))).toEqual([]);
      const slot = await stack.store.readSlot();
      expect(slot?.scan?.counts.pages).toBe(7); // 45 customers in pages of 7
    },
  );
});

describe('a scan over many short runs', () => {
  let sim: RunningSimulator;
  afterAll(async () => sim?.close());

  it('resumes where each run stopped: the same rows, and no customer asked twice', async () => {
    sim = await fleetSimulator(generateFleetScenario({ customers: 240, seed: 13 }), { maxPageSize: 40 });
    const stack = scanStack('fleetruns', sim);
    await requestFleetScan(stack.store);
    // Each run has 100 ms, and each is a new process (no usage records kept between runs).
    const results = (
      await scanToEnd(() => {
        const clock = () => performance.now();
        return scanStep(stack, { clock, deadline: clock() + 100, triage: new TriageCache(), concurrency: 4 });
      })
    ).filter((r) => r.outcome === 'worked'); // a run whose time went on reading the schedule did nothing
    const last = results[results.length - 1];
    expect(last).toMatchObject({ outcome: 'worked', state: 'completed' });
    expect(results.length).toBeGreaterThan(3);
    expect(results.slice(0, -1).every((r) => r.outcome === 'worked' && r.stoppedBy === 'time-budget')).toBe(true);
    expect(truthDiff(truths(sim), await fleetRows(stack.store))).toEqual([]);
    const askedTwice = truths(sim).filter((t) => stack.partnerCenter.of(t.id, 'eligibility') > 1);
    expect(askedTwice.map((t) => t.id)).toEqual([]);
    const slot = await stack.store.readSlot();
    expect(slot?.scan).toMatchObject({ state: 'completed', runs: results.length, counts: { checked: 240 } });
    const progress = stack.telemetry.events.filter((e) => e.name === 'FleetScanProgress');
    expect(progress).toHaveLength(results.length);
    expect(progress.reduce((sum, e) => sum + e.measurements.checkedThisRun, 0)).toBe(240);
  });
});

describe('one scan at a time', () => {
  let sim: RunningSimulator;
  afterAll(async () => sim?.close());

  it('a request while a scan is not finished gets it back; two runs at once: one works, the other finds it held', async () => {
    sim = await fleetSimulator(generateFleetScenario({ customers: 30, seed: 4 }), { maxPageSize: 10 });
    // Slow enough that the first run is still at work when the second one looks.
    sim.setFaults('subscriptions', { latencyMs: 20 });
    const stack = scanStack('fleetone', sim);
    const first = await requestFleetScan(stack.store);
    const again = await requestFleetScan(stack.store);
    expect(again).toMatchObject({ outcome: 'exists', scan: { scanId: first.scan.scanId } });
    const [a, b] = await Promise.all([scanStep(stack), scanStep(stack)]);
    const outcomes = [a.outcome, b.outcome].sort();
    expect(outcomes).toEqual(['busy', 'worked']);
    expect(truths(sim).filter((t) => stack.partnerCenter.of(t.id, 'eligibility') > 1)).toEqual([]);
    // Finished: the next request is a new scan.
    expect(await requestFleetScan(stack.store)).toMatchObject({ outcome: 'created' });
  });
});

describe('failures', () => {
  let sim: RunningSimulator;
  afterEach(async () => sim?.close());

  it('a customer whose calls fail is recorded as check-failed with the error; the scan goes on, the next one mends it', async () => {
    sim = await fleetSimulator(generateFleetScenario({ customers: 40, seed: 5 }));
    sim.setFaults('agreements', { status500: 1 });
    const stack = scanStack('fleetfail', sim);
    await requestFleetScan(stack.store);
    expect(await scanStep(stack)).toMatchObject({ state: 'completed', checked: 40 });
    const rows = [...(await fleetRows(stack.store)).values()];
    const failed = rows.filter((r) => r.state === 'check-failed');
    // Exactly the customers whose agreement is read: the ones with legacy Azure and no Azure plan.
    expect(failed.length).toBe(rows.filter((r) => r.usage === 'legacy').length);
    expect(failed[0]).toMatchObject({ failure: { call: 'agreements', category: 'transient' } });
    expect(failed[0].nextStep).toMatch(/agreements call failed .*the next scan checks this customer again/);
    // No eligibility was asked for them.
    expect(failed.every((r) => stack.partnerCenter.of(r.customerId, 'eligibility') === 0)).toBe(true);

    sim.setFaults('agreements', null);
    await requestFleetScan(stack.store);
    expect(await scanStep(stack)).toMatchObject({ state: 'completed', checked: 40 });
    expect(truthDiff(truths(sim), await fleetRows(stack.store))).toEqual([]);
  });

  it('credentials Partner Center refuses stop the run, keep the scan, and the next run resumes it', async () => {
    sim = await fleetSimulator(generateFleetScenario({ customers: 30, seed: 6 }), { maxPageSize: 10 });
    const stack = scanStack('fleetauth', sim);
    await requestFleetScan(stack.store);
    sim.state.setTokenSettings({ mfa: false });
    sim.state.expireAccessTokens();
    const stopped = await scanStep(stack);
    expect(stopped).toMatchObject({ outcome: 'worked', state: 'running', stoppedBy: 'auth', checked: 0 });
    expect(stopped.outcome === 'worked' && stopped.error).toMatch(/900421/);
    expect((await stack.store.readSlot())?.scan).toMatchObject({
      state: 'running',
      lastError: expect.stringMatching(/auth/),
      lastErrorCategory: 'auth',
    });
    sim.state.setTokenSettings({ mfa: true });
    sim.state.expireAccessTokens();
    expect(await scanStep(stack)).toMatchObject({ state: 'completed', checked: 30 });
    expect(truthDiff(truths(sim), await fleetRows(stack.store))).toEqual([]);
  });

  it('a stored cursor Partner Center refuses fails the scan, saying why; a new request starts over', async () => {
    sim = await fleetSimulator(generateFleetScenario({ customers: 20, seed: 7 }), { maxPageSize: 5 });
    const stack = scanStack('fleetcursor', sim);
    const { scan } = await requestFleetScan(stack.store);
    // As if a run had stopped on page 2 and the token had gone stale since.
    await stack.store.updateSlot((slot) => ({
      result: undefined,
      write: {
        ...slot!,
        scan: {
          ...slot!.scan!,
          page: 2,
          cursor: {
            list: 'customers',
            uri: '/v1/customers?size=5&seekOperation=Next',
            headers: { 'MS-ContinuationToken': 'stale' },
          },
        },
      },
    }));
    const result = await scanStep(stack);
    expect(result).toMatchObject({ outcome: 'worked', state: 'failed' });
    const failed = (await stack.store.readSlot())?.scan;
    expect(failed).toMatchObject({
      scanId: scan.scanId,
      state: 'failed',
      lastError: expect.stringMatching(/refused the listing.*800002/),
      lastErrorCategory: 'invalid-input',
      lastErrorCode: 800002,
    });
    expect(stack.telemetry.events.map((e) => e.name)).toContain('FleetScanFailed');
    expect(
      decideRequest(await stack.store.readSlot(), { scanId: 'x', trigger: 'on-demand', now: Date.now() }).result
        .outcome,
    ).toBe('created');
  });
});
