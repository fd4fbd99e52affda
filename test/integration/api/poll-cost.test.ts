import { randomUUID } from 'node:crypto';
import { generateScenario } from '../../../dev/simulator';
import type { UpgradeRecord } from '../../../shared/tracking/records';
import { newUpgradeRecord, startedRecord } from '../../../shared/tracking/start-tracking';
import { startHostedStack, type HostedStack } from '../../../dev/stack';
import { seedTrackingTable } from '../../../dev/tracking-seed';
import { latestPollRuns } from '../../helpers/tracking-tables';

const TRACKED = 10_000;
const DUE = 100;
const scenario = generateScenario({ customers: DUE, seed: 11, mix: { eligible: 1 }, name: 'poll-cost' });

/**
 * The acceptance "with 10,000 upgrades tracked and 100 of them due, a poll run reads and polls only those 100",
 * counted where it costs: requests reaching Partner Center (the simulator's counters), through the real timer
 * function in the local host. (test/integration/tracking/scale.test.ts counts the table reads of the same case.)
 */
describe('poll run cost against the simulator', () => {
  let stack: HostedStack;

  beforeAll(async () => {
    stack = await startHostedStack({
      tablePrefix: 'apicost',
      simulator: { scenario },
      settings: { POLL_CONCURRENCY: '16', POLL_RATE_PER_SECOND: '500', POLL_TIME_BUDGET_SECONDS: '60' },
    });
  });
  afterAll(async () => stack?.stop());

  it(`with ${TRACKED} upgrades tracked and ${DUE} due, a run polls exactly those ${DUE}, once each`, async () => {
    const { services } = stack;
    // The due ones are real upgrades in Partner Center; the other 9,900 are due from 1 hour to a week ahead (their
    // ids are unknown to the simulator, so polling any of them would show up as a 404 there).
    const now = Date.now();
    const dueIds: string[] = [];
    const rows: UpgradeRecord[] = [];
    for (const [i, customer] of scenario.customers.entries()) {
      const created = await services.partnerCenter.createUpgrade({ customerId: customer.id, productFamily: 'Azure' });
      const upgradeId = created.upgradeId.toLowerCase();
      dueIds.push(upgradeId);
      rows.push(tracked(upgradeId, customer.id, now - 60_000 - i * 1_000));
    }
    for (let i = DUE; i < TRACKED; i++) rows.push(tracked(randomUUID(), randomUUID(), now + 3_600_000 + i * 60_000));
    await seedTrackingTable(services.tables, rows, 4);
    stack.sim.state.resetCounters();

    await stack.host.runFunction('pollUpgrades');

    const counters = stack.sim.state.counters();
    expect(counters.requests.status).toEqual({ total: DUE, byStatus: { '200': DUE } });
    expect(counters.requests.eligibility).toBeUndefined();
    expect(counters.requests.create).toBeUndefined();
    const [run] = await latestPollRuns(services.tables, 1);
    expect(run).toMatchObject({ due: DUE, polled: DUE, errors: 0 });
    // Each due upgrade was polled (its status recorded); a not-due one was left alone.
    for (const upgradeId of dueIds.slice(0, 10)) {
      expect((await services.tracking.getUpgrade(upgradeId))?.pollCount).toBe(1);
    }
    expect((await services.tracking.getUpgrade(rows[DUE].upgradeId))?.pollCount).toBe(0);

    // A second run right after finds nothing due: Partner Center hears nothing more.
    stack.sim.state.resetCounters();
    await stack.host.runFunction('pollUpgrades');
    expect(stack.sim.state.counters().requests.status).toBeUndefined();
  }, 120_000);
});

/** An upgrade as startTracking leaves it, tracked a day before it is due. */
function tracked(upgradeId: string, customerId: string, dueAt: number): UpgradeRecord {
  const trackedAt = dueAt - 86_400_000;
  return startedRecord(
    newUpgradeRecord({ upgradeId, customerId, productFamily: 'Azure' }, trackedAt),
    trackedAt,
    dueAt,
  );
}
