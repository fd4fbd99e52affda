import { seedFor } from './prng';
import { customerIds, Rig } from './rig';

/**
 * Soak: RELIABILITY_SOAK_UPGRADES upgrades (default 200 so the default test run stays short; the full size is 10,000) through their whole life —
 * start webhook (16 callers at once, each retrying 503 with the same webhook-id), the tracking queue (5 %
 * duplicated deliveries, reordered batches), poll runs every 31 simulated minutes, billing callbacks (5 % of them
 * answered 503 by the receiver, 5 % duplicated queue deliveries) — with 5 % injected faults on every simulator route
 * (500, 503, 408, connection reset, malformed JSON: 1 % each). Each upgrade ends in the simulator's true state, and
 * each final upgrade's callback is delivered (2xx) exactly once by event id.
 */
const UPGRADES = Number(process.env.RELIABILITY_SOAK_UPGRADES ?? 200);
jest.setTimeout(Math.max(300_000, UPGRADES * 400));

async function inPool<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

describe(`soak: ${UPGRADES} upgrades with 5 % faults on every route`, () => {
  let rig: Rig;
  afterAll(async () => rig?.stop());

  it('every upgrade ends in its true state; every callback delivered exactly once', async () => {
    const seed = seedFor(`soak (${UPGRADES} upgrades)`);
    const started = performance.now();
    rig = await Rig.start({
      label: 'soak',
      customers: UPGRADES,
      seed,
      receiverFailure: 0.05,
      settings: { POLL_CONCURRENCY: '16', POLL_TIME_BUDGET_SECONDS: '1500' },
    });
    rig.sim.setFaults('*', {
      status500: 0.01,
      status503: 0.01,
      status408: 0.01,
      connectionReset: 0.01,
      connectionResetPhase: 'after',
      malformedJson: 0.01,
    });
    const statuses = new Map<number, number>();
    // The tracking trigger runs while the webhooks are called, as on the host (the queue never piles up: Azurite's
    // queue slows down badly with thousands of messages waiting).
    let starting = true;
    let trackingDuplicates = 0;
    const trackAlongside = (async () => {
      while (starting) trackingDuplicates += (await rig.pumpTracking({ duplicate: 0.05, reorder: true })).duplicates;
    })();
    try {
      await inPool(customerIds(rig), 16, async (customerId) => {
        const { seen } = await rig.startUpgradeWithRetries(customerId);
        for (const s of seen) statuses.set(s, (statuses.get(s) ?? 0) + 1);
      });
    } finally {
      starting = false;
      await trackAlongside;
    }
    const startedAll = performance.now();
    const progress = (what: string) =>
      console.log(`[reliability] soak: ${what} after ${Math.round((performance.now() - started) / 1000)} s`);
    progress(`${UPGRADES} upgrades started`);
    trackingDuplicates += (await rig.pumpTracking({ duplicate: 0.05, reorder: true })).duplicates;
    const tracked = performance.now();
    progress('tracking queue drained');
    const { rounds, polls } = await rig.runUntilQuiet(20, 31 * 60_000, { duplicate: 0.05, reorder: true });
    const finished = performance.now();

    const problems = await rig.truthDiff();
    const callbacks = rig.callbackDiff(await rig.observe());
    const counters = rig.sim.state.counters();
    const report = {
      upgrades: UPGRADES,
      seconds: {
        start: Math.round((startedAll - started) / 1000),
        track: Math.round((tracked - startedAll) / 1000),
        polls: Math.round((finished - tracked) / 1000),
        total: Math.round((finished - started) / 1000),
      },
      webhookStatuses: Object.fromEntries(statuses),
      trackingDuplicates,
      rounds,
      statusCalls: counters.requests.status?.total,
      faultsInjected: counters.faultsInjected,
      callbacksAttempted: rig.receiver.received.length,
      callbacksRefused: rig.receiver.received.filter((d) => d.answered >= 300).length,
      pollErrors: polls.reduce((n, p) => n + p.errors, 0),
    };
    console.log(`[reliability] soak: ${JSON.stringify(report)}`);
    expect({ seed, problems: problems.slice(0, 20), count: problems.length }).toEqual({ seed, problems: [], count: 0 });
    expect({ seed, callbacks: callbacks.slice(0, 20) }).toEqual({ seed, callbacks: [] });
    expect(rig.sim.state.listUpgrades()).toHaveLength(UPGRADES);
    expect([...statuses.keys()].filter((s) => s !== 202 && s !== 409 && s !== 503)).toEqual([]);
    expect(Object.values(counters.faultsInjected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});
