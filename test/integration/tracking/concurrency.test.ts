import { noTelemetry } from '../../../shared/telemetry/telemetry';
import { pollDueUpgrades } from '../../../shared/tracking/poll-run';
import { startTracking } from '../../../shared/tracking/start-tracking';
import type { TrackingStore } from '../../../shared/tracking/store';
import type { TableKey } from '../../../shared/storage/names';
import type { Tables } from '../../../shared/storage/tables';
import {
  acceptAndTrack,
  FakePartnerCenterError,
  guid,
  pollConfig,
  RecordingNotifier,
  RecordingTracker,
  ScriptedPartnerCenter,
  snapshot,
  testStore,
  trackingRows,
  type ScriptStep,
} from './helpers';

const T0 = Date.parse('2026-04-01T08:00:00.000Z');

/** The same population of upgrades, with scripts that answer the same whatever the call count. */
function population(count: number) {
  const steps: ScriptStep[] = [
    'Completed',
    'InProgress',
    'Pending',
    'Failed',
    'Cancelled',
    { raw: 'validating' },
    new FakePartnerCenterError('transient', undefined, 503),
  ];
  return Array.from({ length: count }, (_, i) => ({
    upgradeId: guid(),
    customerId: guid(),
    step: steps[i % steps.length],
  }));
}

async function seed(store: TrackingStore, upgrades: ReturnType<typeof population>) {
  await Promise.all(
    upgrades.map((u) =>
      acceptAndTrack(store, { upgradeId: u.upgradeId, customerId: u.customerId, productFamily: 'Azure' }, T0),
    ),
  );
}

function partnerCenterFor(upgrades: ReturnType<typeof population>, delayMs: number) {
  const pc = new ScriptedPartnerCenter();
  for (const u of upgrades) pc.script(u.upgradeId, u.step);
  pc.delayMs = delayMs;
  return pc;
}

async function tableState(tables: Tables) {
  const state: Partial<Record<TableKey, unknown[]>> = {};
  for (const key of ['tracking', 'customerUpgrades'] as TableKey[]) {
    const rows = await snapshot(tables, key);
    state[key] = rows.sort((a, b) =>
      `${String(a.partitionKey)}|${String(a.rowKey)}`.localeCompare(`${String(b.partitionKey)}|${String(b.rowKey)}`),
    );
  }
  return state;
}

describe('two overlapping poll runs', () => {
  it.each([1, 2, 3])('end in the same table state as one run (round %i)', async (round) => {
    const upgrades = population(28);
    const single = testStore('trkone');
    const double = testStore('trktwo');
    await seed(single.store, upgrades);
    await seed(double.store, upgrades);
    const now = () => T0 + 1_000;
    const common = {
      config: pollConfig({ concurrency: 4 }),
      telemetry: noTelemetry,
      resend: new RecordingTracker().send,
      now,
      random: () => 0.5,
    };

    const oneNotifier = new RecordingNotifier();
    await pollDueUpgrades({
      ...common,
      store: single.store,
      partnerCenter: partnerCenterFor(upgrades, 0),
      notify: oneNotifier.notify,
    });

    const twoNotifier = new RecordingNotifier();
    const pc = partnerCenterFor(upgrades, round * 3);
    const [a, b] = await Promise.all([
      pollDueUpgrades({ ...common, store: double.store, partnerCenter: pc, notify: twoNotifier.notify }),
      pollDueUpgrades({ ...common, store: double.store, partnerCenter: pc, notify: twoNotifier.notify }),
    ]);
    // the runs really overlapped: both found due work
    expect(a.due).toBeGreaterThan(0);
    expect(b.due).toBeGreaterThan(0);

    expect(await tableState(double.tables)).toEqual(await tableState(single.tables));
    const eventIds = (n: RecordingNotifier) => [...new Set(n.sent.map((s) => s.eventId))].sort();
    expect(eventIds(twoNotifier)).toEqual(eventIds(oneNotifier));
    expect(eventIds(oneNotifier)).toHaveLength(12); // Completed, Failed, Cancelled: 4 each in 28
  });
});

describe('queue handlers interleaved with poll runs', () => {
  it('duplicate deliveries during two overlapping runs converge: one upgrade, one live schedule row, history intact', async () => {
    const { store, tables } = testStore('trkmix');
    const inProgress: ScriptStep = 'InProgress';
    const upgrades = population(14).map((u) => ({ ...u, step: inProgress }));
    await seed(store, upgrades);
    const pc = partnerCenterFor(upgrades, 2);
    const now = () => T0 + 1_000;
    const common = {
      store,
      config: pollConfig({ concurrency: 3 }),
      telemetry: noTelemetry,
      resend: new RecordingTracker().send,
      now,
      partnerCenter: pc,
    };
    const redeliver = () =>
      Promise.all(
        upgrades.map((u) =>
          startTracking(
            { upgradeId: u.upgradeId, customerId: u.customerId, productFamily: 'Azure' },
            { store, firstPollDelayMs: 0, now },
          ),
        ),
      );
    await Promise.all([
      pollDueUpgrades({ ...common, notify: new RecordingNotifier().notify }),
      redeliver(),
      pollDueUpgrades({ ...common, notify: new RecordingNotifier().notify }),
      redeliver(),
    ]);
    // whatever the interleaving, every upgrade was polled exactly once and moved forward once
    for (const u of upgrades) {
      const view = (await store.getUpgrade(u.upgradeId))!;
      expect(view).toMatchObject({ status: 'InProgress', pollCount: 1, historySeq: 1 });
      expect(view.history.map((h) => h.status)).toEqual(['InProgress']);
      expect(pc.callsFor(u.upgradeId)).toBe(1);
    }
    // one live schedule row per upgrade, the one it names, also after a later run
    const later = () => T0 + 1_000 + 30 * 60_000;
    await pollDueUpgrades({ ...common, now: later, notify: new RecordingNotifier().notify });
    for (const u of upgrades) {
      const { record } = (await store.readUpgrade(u.upgradeId))!;
      expect((await trackingRows(tables, 't', u.upgradeId)).map((r) => r.rowKey)).toEqual([record.scheduleKey]);
    }
  });
});
