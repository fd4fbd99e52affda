import { compareWithGroundTruth, type TrackedUpgrade } from '../../../dev/demo/ground-truth';
import { generateFleetScenario, type RunningSimulator } from '../../../dev/simulator';
import { upgradeDetail } from '../../../shared/api/representation';
import {
  commandWave,
  createWave,
  readWave,
  runWaveStep,
  type CreateWaveOutcome,
  type WaveRequest,
} from '../../../shared/fleet';
import { RequestGate } from '../../../shared/tracking/request-gate';
import { fleetSimulator, truths } from './helpers';
import { runWaveToEnd, scanFleet, timerRun, waveWorld, type WaveWorld } from './wave-helpers';

/**
 * Fleet waves against the simulator over loopback HTTP and real Azurite, through the real timer run (polls, waves,
 * scan) and the real startTracking: a wave of 200 to its end against the ground truth, its pace, pause, resume and
 * cancel, one wave at a time, and the re-check right before each create.
 */

jest.setTimeout(300_000);

const SELECT_ELIGIBLE: WaveRequest['members'] = { kind: 'select', state: 'eligible', limit: 200 };
/** Fast enough that a test never waits on the pace (the pace itself has a test of its own). */
const FAST = 60_000;

function created(outcome: CreateWaveOutcome) {
  if (outcome.outcome !== 'created') throw new Error(`expected a created wave, got ${outcome.outcome}`);
  return outcome.wave;
}

/** A small fleet of eligible customers, scanned. */
async function smallWorld(label: string, customers: number, seed: number): Promise<[RunningSimulator, WaveWorld]> {
  const sim = await fleetSimulator(generateFleetScenario({ customers, seed, mix: { eligible: 1 } }));
  const world = waveWorld(label, sim);
  await scanFleet(world);
  return [sim, world];
}

describe('a wave of 200 eligible customers', () => {
  let sim: RunningSimulator;
  afterAll(async () => sim?.close());

  it('runs to its end: every upgrade tracked in its true final state, one create per customer, the wave id carried', async () => {
    sim = await fleetSimulator(
      generateFleetScenario({
        customers: 240,
        seed: 41,
        mix: { eligible: 0.86, suspendedSubscriptions: 0.04, onAzurePlan: 0.04, upgradeRunning: 0.03, advisor: 0.03 },
      }),
      { maxPageSize: 100 },
    );
    const world = waveWorld('wave200', sim);
    await scanFleet(world);
    const eligibleAtScan = truths(sim).filter((t) => t.eligibility.isEligible).length;
    expect(eligibleAtScan).toBeGreaterThan(200);
    const eligibilityBefore = new Map(truths(sim).map((t) => [t.id, world.partnerCenter.of(t.id, 'eligibility')]));

    const wave = created(
      await createWave(
        world.store,
        { members: SELECT_ELIGIBLE, createsPerMinute: FAST },
        { createsPerMinute: 30 },
        { now: world.now, telemetry: world.telemetry },
      ),
    );
    expect(wave.members).toBe(200);
    const { view, runs } = await runWaveToEnd(world, wave.waveId);

    expect(view.wave.state).toBe('completed');
    expect(view.progress).toMatchObject({ members: 200, created: 200, skipped: 0, createFailed: 0, inProgress: 0 });
    expect(view.progress.completed + view.progress.failed).toBe(200);
    const ids = view.members.map((m) => m.customerId);
    // One create per customer (and one upgrade at Partner Center), each after a re-check of its eligibility.
    expect(ids.filter((id) => world.partnerCenter.createsOf(id).length !== 1)).toEqual([]);
    expect(ids.filter((id) => sim.state.listUpgrades({ customerId: id }).length !== 1)).toEqual([]);
    expect(ids.filter((id) => world.partnerCenter.of(id, 'eligibility') !== eligibilityBefore.get(id)! + 1)).toEqual(
      [],
    );
    // Every upgrade as the read API shows it equals the simulator's ground truth (status, line items, history).
    const tracked = new Map<string, TrackedUpgrade>();
    for (const member of view.members) {
      const upgrade = (await world.tracking.getUpgrade(member.upgradeId!))!;
      expect({ source: upgrade.source, waveId: upgrade.waveId }).toEqual({ source: 'wave', waveId: wave.waveId });
      expect(member.upgradeStatus).toBe(upgrade.status);
      tracked.set(upgrade.upgradeId, upgradeDetail(upgrade) as unknown as TrackedUpgrade);
    }
    const truthsOfWave = sim.state.listUpgrades().filter((t) => tracked.has(t.id));
    const check = compareWithGroundTruth(truthsOfWave, tracked);
    expect({ differing: [...check.differing], unknown: check.unknown, checked: check.checked }).toEqual({
      differing: [],
      unknown: [],
      checked: 200,
    });
    // The final events name the wave and how long each upgrade took; every final status was notified once.
    const ofWave = new Set(view.members.map((m) => m.upgradeId));
    const finals = world.telemetry.events.filter(
      (e) => ['UpgradeCompleted', 'UpgradeFailed'].includes(e.name) && ofWave.has(e.properties.upgradeId),
    );
    expect(finals).toHaveLength(200);
    expect(finals.filter((e) => e.properties.waveId !== wave.waveId || !(e.measurements.durationMs > 0))).toEqual([]);
    expect(new Set(world.notifier.sent.filter((n) => ofWave.has(n.upgradeId)).map((n) => n.upgradeId)).size).toBe(200);
    // The wave's own events: created, progress per timer run, completed once with its counts.
    const named = (name: string) => world.telemetry.events.filter((e) => e.name === name);
    expect(named('WaveCreated')).toEqual([
      { name: 'WaveCreated', properties: { waveId: wave.waveId }, measurements: { members: 200 } },
    ]);
    expect(named('WaveProgress')).toHaveLength(runs);
    expect(named('WaveCompleted')).toMatchObject([
      {
        properties: { waveId: wave.waveId, state: 'completed' },
        measurements: { members: 200, created: 200, skipped: 0, createFailed: 0, stale: 0 },
      },
    ]);
    console.log(
      `[fleet] wave of 200: ${runs} timer runs; ${view.progress.completed} completed, ${view.progress.failed} failed`,
    );
  });
});

describe("a wave's pace", () => {
  let sim: RunningSimulator;
  afterAll(async () => sim?.close());

  it('starts customers at its pace until the run’s deadline, and the next run goes on from there', async () => {
    let world: WaveWorld;
    [sim, world] = await smallWorld('wavepace', 8, 42);
    const wave = created(
      await createWave(world.store, { members: SELECT_ELIGIBLE, createsPerMinute: 120 }, { createsPerMinute: 30 }),
    );
    // A virtual monotonic clock: every wait (the pace, the gate) moves it, nothing waits for real.
    let clock = 0;
    const sleep = (ms: number) => {
      clock += ms;
      return Promise.resolve();
    };
    const noWait = () => Promise.resolve();
    const at: number[] = [];
    const inner = world.partnerCenter.createUpgrade.bind(world.partnerCenter);
    world.partnerCenter.createUpgrade = (...args) => {
      at.push(clock);
      return inner(...args);
    };
    const step = (deadline: number) =>
      runWaveStep({
        store: world.store,
        upgrades: world.partnerCenter,
        accept: { store: world.tracking, send: world.send, now: world.now },
        telemetry: world.telemetry,
        gate: new RequestGate(1e9, () => clock, noWait),
        clock: () => clock,
        deadline,
        now: world.now,
        sleep,
      });
    // 120 a minute: one every 500 ms; a run of 2.2 s starts five.
    await step(2_200);
    expect(at).toEqual([0, 500, 1_000, 1_500, 2_000]);
    expect((await readWave(world.store, wave.waveId))!.progress).toMatchObject({ created: 5, notStarted: 3 });
    // The run waited out its sixth slot (2.5 s) and stopped; the next run starts the rest at once, at the pace.
    await step(clock + 10_000);
    expect(at).toEqual([0, 500, 1_000, 1_500, 2_000, 2_500, 3_000, 3_500]);
  });
});

describe('pause, resume and cancel', () => {
  let sim: RunningSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  /** The operator acts when the n-th create has been answered, while the run goes on. */
  function actAfterCreate(world: WaveWorld, n: number, act: () => Promise<unknown>): void {
    const inner = world.partnerCenter.createUpgrade.bind(world.partnerCenter);
    let count = 0;
    world.partnerCenter.createUpgrade = async (...args) => {
      const answer = await inner(...args);
      if (++count === n) await act();
      return answer;
    };
  }

  const totalCreates = (world: WaveWorld) =>
    [...world.partnerCenter.creates.values()].reduce((sum, ids) => sum + ids.length, 0);

  it('pause: no customer is started until resume; resume: the rest are started and the wave runs to its end', async () => {
    let world: WaveWorld;
    [sim, world] = await smallWorld('wavepause', 10, 43);
    const wave = created(
      await createWave(world.store, { members: SELECT_ELIGIBLE, createsPerMinute: FAST }, { createsPerMinute: 30 }),
    );
    actAfterCreate(world, 3, () => commandWave(world.store, wave.waveId, 'pause', { telemetry: world.telemetry }));
    await timerRun(world);
    // The create answered when the pause landed is followed; no customer was started after it.
    let view = (await readWave(world.store, wave.waveId))!;
    expect(view.wave.state).toBe('paused');
    expect(totalCreates(world)).toBe(3);
    expect(view.progress).toMatchObject({ created: 3, notStarted: 7, creating: 0 });
    // Paused runs start nobody, whatever time passes, but follow what was started.
    const eligibilityAsked = world.partnerCenter.totals.eligibility;
    world.advance(30 * 60_000);
    await timerRun(world);
    await timerRun(world);
    view = (await readWave(world.store, wave.waveId))!;
    expect(totalCreates(world)).toBe(3);
    expect(world.partnerCenter.totals.eligibility).toBe(eligibilityAsked);
    expect(view.members.filter((m) => m.upgradeId).every((m) => m.upgradeStatus !== 'Pending')).toBe(true);

    expect((await commandWave(world.store, wave.waveId, 'resume', { telemetry: world.telemetry })).outcome).toBe(
      'done',
    );
    const end = await runWaveToEnd(world, wave.waveId);
    expect(end.view.wave.state).toBe('completed');
    expect(end.view.progress).toMatchObject({ members: 10, created: 10 });
    expect(totalCreates(world)).toBe(10);
    expect(world.telemetry.events.map((e) => e.name).filter((n) => /^Wave(Paused|Resumed)$/.test(n))).toEqual([
      'WavePaused',
      'WaveResumed',
    ]);
  });

  it('cancel: no customer is ever started again, a create in flight is followed to its end, the wave ends cancelled', async () => {
    let world: WaveWorld;
    [sim, world] = await smallWorld('wavecancel', 10, 44);
    const wave = created(
      await createWave(world.store, { members: SELECT_ELIGIBLE, createsPerMinute: FAST }, { createsPerMinute: 30 }),
    );
    // The operator cancels while the 4th create is on its way: it lands, and its upgrade is followed.
    const inner = world.partnerCenter.createUpgrade.bind(world.partnerCenter);
    let count = 0;
    world.partnerCenter.createUpgrade = async (...args) => {
      if (++count === 4) await commandWave(world.store, wave.waveId, 'cancel', { telemetry: world.telemetry });
      return inner(...args);
    };
    await timerRun(world);
    let view = (await readWave(world.store, wave.waveId))!;
    expect(view.wave).toMatchObject({ state: 'following', cancelledAt: expect.any(String) });
    expect(view.progress).toMatchObject({ created: 4, cancelled: 6, notStarted: 0, creating: 0 });
    // The slot is free at once: the next wave may be created while this one follows its upgrades.
    const next = await createWave(
      world.store,
      { members: { kind: 'customers', customerIds: [view.members.find((m) => !m.upgradeId)!.customerId] } },
      { createsPerMinute: FAST },
    );
    expect(next.outcome).toBe('created');
    await commandWave(world.store, (next as { wave: { waveId: string } }).wave.waveId, 'cancel');
    const end = await runWaveToEnd(world, wave.waveId);
    view = end.view;
    expect(view.wave.state).toBe('cancelled');
    expect(view.progress).toMatchObject({ members: 10, created: 4, cancelled: 6, inProgress: 0 });
    expect(view.progress.completed + view.progress.failed).toBe(4);
    expect(totalCreates(world)).toBe(4);
    const ends = world.telemetry.events.filter(
      (e) => e.name === 'WaveCompleted' && e.properties.waveId === wave.waveId,
    );
    expect(ends).toMatchObject([{ properties: { state: 'cancelled' }, measurements: { created: 4 } }]);
  });
});

describe('one wave at a time', () => {
  let sim: RunningSimulator;
  afterAll(async () => sim?.close());

  it('two creations at once make one wave; the other gets it back, and its member rows are gone', async () => {
    let world: WaveWorld;
    [sim, world] = await smallWorld('waveonce', 6, 45);
    const request = { members: SELECT_ELIGIBLE, createsPerMinute: FAST };
    const [a, b] = await Promise.all([
      createWave(world.store, request, { createsPerMinute: 30 }),
      createWave(world.store, request, { createsPerMinute: 30 }),
    ]);
    const outcomes = [a.outcome, b.outcome].sort();
    expect(outcomes).toEqual(['created', 'exists']);
    const winner = a.outcome === 'created' ? a.wave : (b as Extract<CreateWaveOutcome, { outcome: 'created' }>).wave;
    const loser = a.outcome === 'exists' ? a : b;
    expect(loser).toEqual({ outcome: 'exists', waveId: winner.waveId });
    expect(await world.store.readWaveSlot()).toEqual({ activeWaveId: winner.waveId, lastWaveId: winner.waveId });
    // Only the winner's six member rows exist.
    const memberRows = (await fleetRowsStartingWith(world, 'm!')).map((row) => String(row.waveId));
    expect(memberRows).toEqual(Array<string>(6).fill(winner.waveId));
    // While it runs, another creation gets it back too; a dry run still answers.
    expect(await createWave(world.store, request, { createsPerMinute: 30 })).toEqual({
      outcome: 'exists',
      waveId: winner.waveId,
    });
    const dry = await createWave(world.store, { ...request, dryRun: true }, { createsPerMinute: 30 });
    expect(dry).toMatchObject({ outcome: 'dry-run', plan: { members: [] } });
    expect(dry.outcome === 'dry-run' && dry.plan.excluded.map((e) => e.state)).toEqual(
      Array<string>(6).fill('in-another-wave'),
    );
  });
});

describe('two timer runs at once', () => {
  let sim: RunningSimulator;
  afterAll(async () => sim?.close());

  it('one takes the wave and starts its customers, the other finds it held; no customer gets two creates', async () => {
    let world: WaveWorld;
    [sim, world] = await smallWorld('wavetworuns', 8, 47);
    const wave = created(
      await createWave(world.store, { members: SELECT_ELIGIBLE, createsPerMinute: FAST }, { createsPerMinute: 30 }),
    );
    const [a, b] = await Promise.all([timerRun(world), timerRun(world)]);
    const reports = [a.wave, b.wave].map((w) => (w.outcome === 'worked' ? w.waves.map((r) => r.outcome) : []));
    expect(reports.flat().sort()).toEqual(['busy', 'worked']);
    const view = (await readWave(world.store, wave.waveId))!;
    expect(view.progress).toMatchObject({ members: 8, created: 8 });
    const ids = view.members.map((m) => m.customerId);
    expect(ids.filter((id) => world.partnerCenter.createsOf(id).length !== 1)).toEqual([]);
    expect(ids.filter((id) => sim.state.listUpgrades({ customerId: id }).length !== 1)).toEqual([]);
  });
});

describe('the re-check right before each create', () => {
  let sim: RunningSimulator;
  afterAll(async () => sim?.close());

  it('a customer whose upgrade started since the scan is handed over without a create; one no longer eligible is skipped', async () => {
    let world: WaveWorld;
    [sim, world] = await smallWorld('waverecheck', 5, 46);
    const customers = truths(sim).map((t) => t.id);
    const wave = created(
      await createWave(
        world.store,
        { members: { kind: 'customers', customerIds: customers } },
        { createsPerMinute: FAST },
      ),
    );
    // Since the scan: someone started an upgrade for the first customer, and the second one was suspended.
    const elsewhere = await world.partnerCenter.inner.createUpgrade({
      customerId: customers[0],
      productFamily: 'Azure',
    });
    const { upgradeIds: _upgrades, ...spec } = sim.state.getCustomer(customers[1])!;
    sim.state.addCustomer({ ...spec, ineligibleReason: 'suspendedSubscriptions' });
    const { view } = await runWaveToEnd(world, wave.waveId);
    const byId = new Map(view.members.map((m) => [m.customerId, m]));
    expect(byId.get(customers[0])).toMatchObject({ status: 'handed-over', upgradeId: elsewhere.upgradeId });
    expect(world.partnerCenter.createsOf(customers[0])).toEqual([]);
    expect(byId.get(customers[1])).toMatchObject({
      status: 'skipped',
      progress: 'skipped',
      skip: { state: 'not-eligible', reason: 'suspended-subscriptions', nextStep: expect.stringMatching(/suspended/i) },
    });
    expect(world.partnerCenter.createsOf(customers[1])).toEqual([]);
    expect(view.progress).toMatchObject({ created: 4, skipped: 1, skippedByReason: { 'suspended-subscriptions': 1 } });
    // The upgrade found is tracked as any other (its row came from the wave, which recorded it).
    const found = (await world.tracking.readUpgrade(elsewhere.upgradeId))!.record;
    expect(found).toMatchObject({ customerId: customers[0], waveId: wave.waveId, source: 'wave' });
  });
});

/** The Fleet table's rows whose RowKey starts with `prefix`. */
async function fleetRowsStartingWith(world: WaveWorld, prefix: string): Promise<Record<string, unknown>[]> {
  const client = await world.tables.get('fleet');
  const rows: Record<string, unknown>[] = [];
  for await (const row of client.listEntities<Record<string, unknown>>()) {
    if (String(row.rowKey).startsWith(prefix)) rows.push(row);
  }
  return rows;
}
