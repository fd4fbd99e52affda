import { generateFleetScenario, type RunningSimulator } from '../../dev/simulator';
import { requestFleetScan, TriageCache, type FleetCustomerRecord } from '../../shared/fleet';
import type { TrackingMessage } from '../../shared/tracking/records';
import {
  fleetRows,
  fleetSimulator,
  scanStack,
  scanStep,
  truthDiff,
  truths,
  type CountingPartnerCenter,
} from '../integration/fleet/helpers';
import { testTables, trackingRows } from '../integration/tracking/helpers';
import { Process, processPartnerCenter, processTables } from './process';
import { prng, seedFor } from './prng';

/**
 * Crash points of the fleet scan: a scan of a small generated fleet (five pages, every kind of customer, upgrades
 * under way) has a few dozen side effects — the request, the claim, each batch of rows written with the scan's
 * counts, each hand-over of an upgrade to the tracking (its transaction, its customer index row, its queue message),
 * each page finished, the completion. For each k the process dies right after the k-th: nothing it started lands
 * after that (no write, no call). A new process resumes the scan once the dead one's lease has passed. The end is
 * the rows of a scan without a crash, every upgrade handed to the tracking, and no customer's eligibility asked twice.
 * Then kills at seeded random points between side effects (after the n-th Partner Center answer, mid-page): the same
 * rows, and no customer written before the kill is asked again.
 */

jest.setTimeout(600_000);

const CUSTOMERS = 36;
/** Longer than any lease a dead run can hold (its budget and the margin). */
const RESTART_AFTER_MS = 15 * 60_000;

interface Outcome {
  rows: Map<string, FleetCustomerRecord>;
  effects: number;
  names: string[];
  /** Eligibility asks per customer, over the killed process and the ones after it. */
  asked: CountingPartnerCenter;
  /** Customers whose row was written when the process died. */
  writtenAtDeath: Set<string>;
  tracking: { upgrades: Set<string>; messages: Set<string> };
  runs: number;
}

describe('fleet scan crash points', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await fleetSimulator(generateFleetScenario({ customers: CUSTOMERS, seed: 31 }), {
      maxPageSize: 8,
      nextLink: 'root',
      endWithError2000: true,
    });
  });
  afterAll(async () => sim?.close());

  /**
   * One scan from its request to its end: the first process dies as told, then new processes (a fresh usage-record
   * cache each, the wall clock past the dead one's lease) resume it until it completes.
   */
  async function scan(die: { afterEffect?: number; atAnswer?: number }): Promise<Outcome> {
    const tables = testTables('fleetcrash');
    // The test's own view: reads the rows, and counts every Partner Center call any process made.
    const world = scanStack('fleetcrash', sim, tables);
    const messages: TrackingMessage[] = [];
    let offset = 0;
    const now = () => Date.now() + offset;
    /** One process of the app: its tables, Partner Center and queue as it sees them. */
    const inProcess = (process: Process, dieAtAnswer?: number) => {
      const stack = scanStack('fleetcrash', sim, processTables(tables, process));
      const pc = processPartnerCenter(world.partnerCenter, process, dieAtAnswer);
      const send = (message: TrackingMessage) =>
        process.effect('enqueue upgrade-tracking', () => {
          messages.push(message);
          return Promise.resolve();
        });
      return {
        request: () => requestFleetScan(stack.store, now),
        step: () =>
          scanStep(stack, {
            directory: pc,
            upgrades: pc,
            accept: { store: stack.tracking, send, now },
            now,
            triage: new TriageCache(),
          }),
      };
    };
    const survive = async (process: Process, work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (error) {
        if (!process.dead) throw error;
      }
    };
    const first = new Process(die.afterEffect);
    const app = inProcess(first, die.atAnswer);
    let runs = 1;
    await survive(first, async () => {
      await app.request();
      await app.step();
    });
    let writtenAtDeath = new Set<string>();
    if (first.dead) {
      writtenAtDeath = new Set((await fleetRows(world.store)).keys());
      // A new process starts once the dead one's lease has passed; if the request itself was lost, the operator
      // asks again.
      offset += RESTART_AFTER_MS;
      const next = new Process();
      if (!(await world.store.readSlot())?.scan) await inProcess(next).request();
    }
    while ((await world.store.readSlot())?.scan?.state !== 'completed' && runs < 10) {
      runs++;
      const process = new Process();
      await survive(process, () => inProcess(process).step());
    }
    const upgrades = new Set((await trackingRows(tables, 'u')).map((row) => String(row.upgradeId)));
    return {
      rows: await fleetRows(world.store),
      effects: first.effects,
      names: [...first.log],
      asked: world.partnerCenter,
      writtenAtDeath,
      tracking: { upgrades, messages: new Set(messages.map((m) => m.upgradeId)) },
      runs,
    };
  }

  /** A row without what differs between two scans of the same fleet (the scan's id and time). */
  function comparable(rows: Map<string, FleetCustomerRecord>): Record<string, unknown> {
    return Object.fromEntries(
      [...rows.entries()].map(([id, { scanId: _scanId, scannedAt: _at, ...rest }]) => [id, rest]),
    );
  }

  function checkEnd(outcome: Outcome, clean: Outcome, label: string): void {
    expect({ label, rows: comparable(outcome.rows) }).toEqual({ label, rows: comparable(clean.rows) });
    expect({ label, diff: truthDiff(truths(sim), outcome.rows) }).toEqual({ label, diff: [] });
    const inProgress = [...outcome.rows.values()].flatMap((row) => (row.upgradeId ? [row.upgradeId] : []));
    // Every upgrade Partner Center named is recorded for tracking (its message sent, or re-sent by the poll run
    // from its accepted row when the process died between the two).
    expect({ label, tracked: inProgress.filter((id) => !outcome.tracking.upgrades.has(id)) }).toEqual({
      label,
      tracked: [],
    });
  }

  it('dies after each side effect, resumes, and ends as without a crash, no customer asked twice', async () => {
    const clean = await scan({});
    expect(clean.rows.size).toBe(CUSTOMERS);
    expect(truthDiff(truths(sim), clean.rows)).toEqual([]);
    const inProgress = [...clean.rows.values()].filter((row) => row.state === 'upgrade-in-progress');
    expect(inProgress.length).toBeGreaterThan(0);
    console.log(`[reliability] fleet scan: ${clean.effects} side effects in a clean scan: ${clean.names.join(', ')}`);
    for (let k = 1; k <= clean.effects; k++) {
      const outcome = await scan({ afterEffect: k });
      const label = `crash after side effect #${k} (${outcome.names[k - 1] ?? 'none'})`;
      checkEnd(outcome, clean, label);
      const askedTwice = truths(sim).filter((t) => outcome.asked.of(t.id, 'eligibility') > 1);
      expect({ label, askedTwice: askedTwice.map((t) => t.id) }).toEqual({ label, askedTwice: [] });
    }
  });

  it('killed at random points mid-page, resumed: the same rows, and no customer written before the kill asked again', async () => {
    const random = prng(seedFor('fleet scan kills'));
    const clean = await scan({});
    const answers = Object.values(clean.asked.totals).reduce((a, b) => a + b, 0);
    const kills: string[] = [];
    for (let i = 0; i < 8; i++) {
      const atAnswer = 1 + random.int(answers);
      const outcome = await scan({ atAnswer });
      const label = `killed at Partner Center answer #${atAnswer} of ${answers}`;
      checkEnd(outcome, clean, label);
      const askedAgain = [...outcome.writtenAtDeath].filter((id) => outcome.asked.of(id, 'eligibility') > 1);
      expect({ label, askedAgain }).toEqual({ label, askedAgain: [] });
      // Only an answer in hand when the process died can be asked again: at most one batch's worth.
      const askedTwice = truths(sim).filter((t) => outcome.asked.of(t.id, 'eligibility') > 1);
      expect(askedTwice.length).toBeLessThanOrEqual(99);
      kills.push(`#${atAnswer}: ${askedTwice.length} asked again, ${outcome.runs} runs`);
    }
    console.log(`[reliability] fleet scan kills (answers of ${answers}): ${kills.join('; ')}`);
  });
});
