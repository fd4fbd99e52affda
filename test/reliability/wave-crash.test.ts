import { generateFleetScenario, type RunningSimulator } from '../../dev/simulator';
import { createWave, readWave, type WaveView } from '../../shared/fleet';
import { FleetStore } from '../../shared/fleet/store';
import type { TrackingMessage } from '../../shared/tracking/records';
import { TrackingStore } from '../../shared/tracking/store';
import { fleetSimulator, truths } from '../integration/fleet/helpers';
import { trackingRows } from '../integration/tracking/helpers';
import { scanFleet, timerRun, waveWorld, type WaveWorld } from '../integration/fleet/wave-helpers';
import { Process, processPartnerCenter, processTables } from './process';
import { prng, seedFor } from './prng';

/**
 * Crash points of the wave runner: a wave of six customers — four to create, one whose upgrade was started elsewhere
 * since the scan (handed over without a create), one no longer eligible (skipped) — has a few dozen side effects in
 * its timer runs: the claim, each member marked `creating`, each Partner Center create, each hand-over to the tracking
 * (its transaction, its customer index row, its message), each member's outcome, the wave following its upgrades, the
 * release. For each k the process dies right after the k-th: nothing it started lands after that. New processes take
 * the wave once the dead one's lease has passed, and timer runs go on until the wave ends. Half the upgrades fail
 * quickly, so a create whose answer was lost is often retried after its upgrade failed (the customer is eligible
 * again): the same request id then gets the same upgrade. The end: every customer as in a run without a crash, one
 * upgrade per customer at Partner Center, every create of a customer with one request id, every upgrade tracked with
 * the wave's id. Then kills at seeded random Partner Center answers.
 */

jest.setTimeout(900_000);

/** Longer than any lease a dead run can hold (its budget and the margin). */
const RESTART_AFTER_MS = 15 * 60_000;

interface Outcome {
  view: WaveView;
  sim: RunningSimulator;
  world: WaveWorld;
  effects: number;
  /** Partner Center answers the first process received. */
  answers: number;
  names: string[];
  runs: number;
  elsewhere: string;
  customers: string[];
}

/** What a customer ended as, without what differs between two worlds (ids, times). */
function ends(view: WaveView): Record<string, unknown>[] {
  return view.members.map((m) => ({ status: m.status, progress: m.progress, skip: m.skip?.reason }));
}

describe('wave runner crash points', () => {
  /** A fresh world (its own simulator and tables), scanned, the wave created; the first process dies as told. */
  async function wave(die: { afterEffect?: number; atAnswer?: number }): Promise<Outcome> {
    const sim = await fleetSimulator(
      generateFleetScenario({
        customers: 6,
        seed: 51,
        mix: { eligible: 1 },
        outcomes: { Completed: 1, Failed: 1 },
        pendingSeconds: { min: 30, max: 60 },
        inProgressSeconds: { min: 60, max: 120 },
      }),
    );
    const world = waveWorld('wavecrash', sim);
    await scanFleet(world);
    const customers = truths(sim).map((t) => t.id);
    // Since the scan: an upgrade started elsewhere for the first customer; the second one is suspended.
    const elsewhere = (
      await world.partnerCenter.inner.createUpgrade({ customerId: customers[0], productFamily: 'Azure' })
    ).upgradeId;
    const { upgradeIds: _upgrades, ...spec } = sim.state.getCustomer(customers[1])!;
    sim.state.addCustomer({ ...spec, ineligibleReason: 'suspendedSubscriptions' });
    const created = await createWave(
      world.store,
      { members: { kind: 'customers', customerIds: customers }, createsPerMinute: 60_000 },
      { createsPerMinute: 30 },
      { now: world.now },
    );
    if (created.outcome !== 'created') throw new Error(created.outcome);
    const waveId = created.wave.waveId;

    /** One timer run of one process of the app: its tables, Partner Center, queues as it sees them. */
    const processRun = (process: Process, dieAtAnswer?: number) => {
      const tables = processTables(world.tables, process);
      const pc = processPartnerCenter(world.partnerCenter, process, dieAtAnswer);
      return timerRun(world, {
        tracking: new TrackingStore(tables),
        partnerCenter: pc,
        directory: pc,
        fleet: new FleetStore(tables),
        notify: (notification) =>
          process.effect('enqueue upgrade-notifications', () => world.notifier.notify(notification)),
        track: (message: TrackingMessage) => process.effect('enqueue upgrade-tracking', () => world.send(message)),
      });
    };
    const first = new Process(die.afterEffect);
    try {
      await processRun(first, die.atAnswer);
    } catch (error) {
      if (!first.dead) throw error;
    }
    let runs = 1;
    if (first.dead) world.advance(RESTART_AFTER_MS);
    for (;;) {
      const view = (await readWave(world.store, waveId))!;
      if (view.wave.state === 'completed' || runs >= 20) {
        const { effects, answers, log } = first;
        return { view, sim, world, effects, answers, names: [...log], runs, elsewhere, customers };
      }
      runs++;
      await processRun(new Process());
      world.advance(10 * 60_000);
    }
  }

  async function checkEnd(outcome: Outcome, clean: Outcome, label: string): Promise<void> {
    const { view, sim, world, customers } = outcome;
    expect({ label, state: view.wave.state, ends: ends(view) }).toEqual({
      label,
      state: 'completed',
      ends: ends(clean.view),
    });
    // One upgrade per customer at Partner Center (none for the one skipped), and every create of a customer sent
    // with one request id.
    const upgrades = customers.map((id) => sim.state.listUpgrades({ customerId: id }).map((u) => u.id));
    expect({ label, upgrades: upgrades.map((ids) => ids.length) }).toEqual({ label, upgrades: [1, 0, 1, 1, 1, 1] });
    expect({ label, first: upgrades[0][0] }).toEqual({ label, first: outcome.elsewhere });
    const requestIds = customers.map((id) => new Set(world.partnerCenter.createsOf(id)).size);
    expect({ label, requestIds }).toEqual({ label, requestIds: [0, 0, 1, 1, 1, 1] });
    // Each member's upgrade is the customer's one upgrade, tracked with the wave's id and followed to its true end.
    const tracked = new Map((await trackingRows(world.tables, 'u')).map((row) => [String(row.upgradeId), row]));
    for (const member of view.members.filter((m) => m.upgradeId)) {
      const index = customers.indexOf(member.customerId);
      const truth = sim.state.getUpgrade(member.upgradeId!)!;
      expect({ label, upgrade: member.upgradeId }).toEqual({ label, upgrade: upgrades[index][0] });
      expect({ label, row: tracked.get(member.upgradeId!) }).toMatchObject({
        label,
        row: { waveId: view.wave.waveId, status: truth.status },
      });
    }
  }

  it('dies after each side effect of its runs, resumes, and ends as without a crash: never two upgrades for a customer', async () => {
    const clean = await wave({});
    expect(clean.view.progress).toMatchObject({ members: 6, created: 5, skipped: 1 });
    await checkEnd(clean, clean, 'no crash');
    await clean.sim.close();
    console.log(`[reliability] wave: ${clean.effects} side effects in a clean first run: ${clean.names.join(', ')}`);
    const retried: string[] = [];
    for (let k = 1; k <= clean.effects; k++) {
      const outcome = await wave({ afterEffect: k });
      const label = `crash after side effect #${k} (${outcome.names[k - 1] ?? 'none'})`;
      await checkEnd(outcome, clean, label);
      const twice = outcome.customers.filter((id) => outcome.world.partnerCenter.createsOf(id).length > 1);
      if (twice.length > 0) retried.push(`#${k}`);
      await outcome.sim.close();
    }
    console.log(
      `[reliability] wave: a create sent again (same request id, same upgrade) after crash ${retried.join(', ')}`,
    );
  });

  it('killed at random Partner Center answers, resumed: the same end, never two upgrades for a customer', async () => {
    const random = prng(seedFor('wave kills'));
    const clean = await wave({});
    await clean.sim.close();
    const kills: string[] = [];
    for (let i = 0; i < 6; i++) {
      const atAnswer = 1 + random.int(clean.answers);
      const outcome = await wave({ atAnswer });
      await checkEnd(outcome, clean, `killed at Partner Center answer #${atAnswer}`);
      kills.push(`#${atAnswer}: ${outcome.runs} runs`);
      await outcome.sim.close();
    }
    console.log(`[reliability] wave kills: ${kills.join('; ')}`);
  });
});
