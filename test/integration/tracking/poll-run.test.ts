import { POLL_RUN_MEASUREMENTS } from '../../../shared/telemetry/events';
import { RecordingTelemetry } from '../../../dev/recording-telemetry';
import { pollDueUpgrades, type PollRunOptions } from '../../../shared/tracking/poll-run';
import type { TrackingStore } from '../../../shared/tracking/store';
import {
  acceptAndTrack,
  FakePartnerCenterError,
  guid,
  pollConfig,
  RecordingNotifier,
  RecordingTracker,
  ScriptedPartnerCenter,
  testStore,
  trackingRows,
} from './helpers';
import { latestPollRuns } from '../../helpers/tracking-tables';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const MINUTE = 60_000;

/** A clock the test moves; every stored time comes from it. */
function wallClock(start = T0) {
  let now = start;
  return { now: () => now, set: (t: number) => (now = t), advance: (ms: number) => (now += ms) };
}

async function track(store: TrackingStore, at: number, customerId = guid()) {
  const upgradeId = guid();
  await acceptAndTrack(store, { upgradeId, customerId, productFamily: 'Azure' }, at);
  return { upgradeId, customerId };
}

describe('pollDueUpgrades against Azurite', () => {
  // A fresh set of tables per test: each test's runs see only its own upgrades.
  let store: TrackingStore;
  let tables: ReturnType<typeof testStore>['tables'];
  beforeEach(() => {
    ({ store, tables } = testStore('trkpoll'));
  });

  function run(overrides: Partial<PollRunOptions> & Pick<PollRunOptions, 'partnerCenter' | 'now'>) {
    return pollDueUpgrades({
      store,
      config: pollConfig(),
      telemetry: new RecordingTelemetry(),
      notify: new RecordingNotifier().notify,
      resend: new RecordingTracker().send,
      random: () => 0,
      ...overrides,
    });
  }

  it('follows an upgrade to Completed: history of each change, completedAt, one notification, leaves the schedule', async () => {
    const clock = wallClock();
    const { upgradeId, customerId } = await track(store, clock.now());
    const partnerCenter = new ScriptedPartnerCenter().script(
      upgradeId,
      'Pending',
      'InProgress',
      'InProgress',
      'Completed',
    );
    const notifier = new RecordingNotifier();
    const telemetry = new RecordingTelemetry();
    const options = { partnerCenter, now: clock.now, notify: notifier.notify, telemetry };

    const first = await run(options);
    expect(first).toMatchObject({ due: 1, polled: 1, changed: 1 });
    let view = (await store.getUpgrade(upgradeId))!;
    // Pending backs off one step: 2 minutes (random 0 = no jitter)
    expect(view).toMatchObject({ status: 'Pending', rawStatus: 'pending', pollCount: 1 });
    expect(view.nextPollAt).toBe(new Date(clock.now() + 2 * MINUTE).toISOString());

    // not due yet: nothing happens
    clock.advance(MINUTE);
    expect(await run(options)).toMatchObject({ due: 0, polled: 0 });

    for (let i = 0; i < 3; i++) {
      clock.set(Date.parse((await store.readUpgrade(upgradeId))!.record.nextPollAt!));
      await run(options);
    }
    view = (await store.getUpgrade(upgradeId))!;
    expect(view).toMatchObject({
      status: 'Completed',
      rawStatus: 'completed',
      completedAt: new Date(clock.now()).toISOString(),
    });
    expect(view.notifiedAt).toBeDefined();
    expect(view.scheduleKey).toBe('');
    expect(view.history.map((h) => h.status)).toEqual(['Pending', 'InProgress', 'Completed']);
    expect(view.lineItems[0].targetProduct.name).toBe('Azure plan');
    expect(notifier.sent).toEqual([
      expect.objectContaining({ event: 'upgrade.completed', upgradeId, customerId, status: 'Completed' }),
    ]);
    expect(await trackingRows(tables, 't', upgradeId)).toEqual([]);
    expect(telemetry.events.map((e) => e.name)).toEqual(
      expect.arrayContaining(['UpgradeStatusChanged', 'UpgradeCompleted', 'PollRunCompleted']),
    );
    // Every measurement the workbook charts (POLL_RUN_MEASUREMENTS), and no other.
    const runEvent = telemetry.events.find((e) => e.name === 'PollRunCompleted')!;
    expect(Object.keys(runEvent.measurements).sort()).toEqual([...POLL_RUN_MEASUREMENTS].sort());
    expect(runEvent.measurements).toMatchObject({ rateCuts: 0, finalRatePerSecond: pollConfig().ratePerSecond });

    // a final upgrade is never polled again
    clock.advance(365 * 86_400_000);
    const calls = partnerCenter.calls.length;
    await run(options);
    expect(partnerCenter.calls.length).toBe(calls);
  });

  it('records an unknown status verbatim and never regresses', async () => {
    const clock = wallClock(T0 + 1);
    const { upgradeId } = await track(store, clock.now());
    const partnerCenter = new ScriptedPartnerCenter().script(upgradeId, 'InProgress', { raw: 'validating' }, 'Pending');
    for (let i = 0; i < 3; i++) {
      await run({ partnerCenter, now: clock.now });
      clock.set(Date.parse((await store.readUpgrade(upgradeId))!.record.nextPollAt!));
    }
    const view = (await store.getUpgrade(upgradeId))!;
    expect(view).toMatchObject({ status: 'Unknown', rawStatus: 'validating', statusRank: 2 });
    expect(view.history.map((h) => [h.status, h.rawStatus])).toEqual([
      ['InProgress', 'inProgress'],
      ['Unknown', 'validating'],
    ]);
  });

  it('one failing upgrade never aborts the run: attempts and last error recorded, it backs off', async () => {
    const clock = wallClock(T0 + 2);
    const bad = await track(store, clock.now());
    const good = await track(store, clock.now());
    const partnerCenter = new ScriptedPartnerCenter()
      .script(bad.upgradeId, new FakePartnerCenterError('transient', undefined, 503))
      .script(good.upgradeId, 'Completed');
    const summary = await run({ partnerCenter, now: clock.now });
    expect(summary).toMatchObject({ errors: 1, completed: 1 });
    const failed = (await store.readUpgrade(bad.upgradeId))!.record;
    expect(failed).toMatchObject({ attempts: 1, lastErrorCategory: 'transient', status: 'Pending' });
    expect(failed.lastError).toContain('HTTP 503');
    // failure 1 + Pending step = 2 steps: 4 minutes
    expect(failed.nextPollAt).toBe(new Date(clock.now() + 4 * MINUTE).toISOString());
    expect((await store.readUpgrade(good.upgradeId))!.record.status).toBe('Completed');

    clock.set(Date.parse(failed.nextPollAt!));
    await run({ partnerCenter, now: clock.now });
    const again = (await store.readUpgrade(bad.upgradeId))!.record;
    expect(again.attempts).toBe(2);
    expect(again.nextPollAt).toBe(new Date(clock.now() + 8 * MINUTE).toISOString());
  });

  it('on a 429 every call pauses until Retry-After, then the run continues', async () => {
    const clock = wallClock(T0 + 3);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await track(store, clock.now())).upgradeId);
    const partnerCenter = new ScriptedPartnerCenter();
    partnerCenter.script(ids[0], new FakePartnerCenterError('throttled', 400, 429), 'InProgress');
    for (const id of ids.slice(1)) partnerCenter.script(id, 'InProgress');
    partnerCenter.delayMs = 20;
    const summary = await run({ partnerCenter, now: clock.now, config: pollConfig({ concurrency: 4 }) });
    expect(summary).toMatchObject({ throttled: 1, errors: 0, changed: 4 });
    // every call that started after the 429 came back waited for the pause (400 ms from then)
    const throttledAt = partnerCenter.errorsAt.find((e) => e.category === 'throttled')!.at;
    const later = partnerCenter.calls.filter((c) => c.at > throttledAt);
    expect(later.length).toBeGreaterThan(0);
    for (const call of later) expect(call.at).toBeGreaterThanOrEqual(throttledAt + 399);
    expect(partnerCenter.callsFor(ids[0])).toBe(2);
  });

  it('serves the longest-waiting upgrades first, across every schedule shard', async () => {
    const ids: string[] = [];
    // tracked (so due) one second apart, newest first, spread over the shards by their ids
    for (let i = 12; i > 0; i--) ids.unshift((await track(store, T0 - i * 1_000)).upgradeId);
    expect(new Set(ids.map((id) => store.shardOf(id))).size).toBeGreaterThan(1);
    const partnerCenter = new ScriptedPartnerCenter();
    for (const id of ids) partnerCenter.script(id, 'InProgress');
    await run({ partnerCenter, now: () => T0, config: pollConfig({ concurrency: 1 }) });
    expect(partnerCenter.calls.map((c) => c.upgradeId)).toEqual([...ids].reverse());
  });

  it('keeps to the concurrency limit and stops starting polls when the time budget is spent', async () => {
    const clock = wallClock(T0 + 4);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await track(store, clock.now())).upgradeId);
    const partnerCenter = new ScriptedPartnerCenter();
    for (const id of ids) partnerCenter.script(id, 'InProgress');
    partnerCenter.delayMs = 150;
    const summary = await run({
      partnerCenter,
      now: clock.now,
      config: pollConfig({ concurrency: 2, timeBudgetMs: 400 }),
    });
    expect(partnerCenter.maxInFlight).toBeLessThanOrEqual(2);
    expect(summary.stoppedBy).toBe('time-budget');
    expect(summary.polled).toBeLessThan(12);
    // the rest stay due for the next run, untouched
    const next = await run({ partnerCenter, now: clock.now });
    expect(next.polled).toBe(12 - summary.polled);
  });

  it('an upgrade not final after the maximum age becomes Stale and is notified', async () => {
    const clock = wallClock(T0 + 5);
    const { upgradeId } = await track(store, clock.now());
    const partnerCenter = new ScriptedPartnerCenter().script(upgradeId, 'InProgress');
    const notifier = new RecordingNotifier();
    const config = pollConfig({ maxAgeMs: 10 * MINUTE });
    const telemetry = new RecordingTelemetry();
    for (let i = 0; i < 10; i++) {
      await run({ partnerCenter, now: clock.now, config, notify: notifier.notify, telemetry });
      const record = (await store.readUpgrade(upgradeId))!.record;
      if (!record.nextPollAt) break;
      // the schedule never overshoots the stale deadline
      expect(Date.parse(record.nextPollAt)).toBeLessThanOrEqual(T0 + 5 + 10 * MINUTE);
      clock.set(Date.parse(record.nextPollAt));
    }
    const record = (await store.readUpgrade(upgradeId))!.record;
    expect(record).toMatchObject({ status: 'Stale', completedAt: new Date(T0 + 5 + 10 * MINUTE).toISOString() });
    expect(notifier.sent).toEqual([expect.objectContaining({ event: 'upgrade.stale', upgradeId })]);
    expect(telemetry.events.some((e) => e.name === 'UpgradeStale')).toBe(true);
  });

  it('a failed notification is sent by the next run with the same event id (no lost callback)', async () => {
    const clock = wallClock(T0 + 6);
    const { upgradeId } = await track(store, clock.now());
    const partnerCenter = new ScriptedPartnerCenter().script(upgradeId, 'Failed');
    const notifier = new RecordingNotifier();
    notifier.failuresLeft = 1;
    const first = await run({ partnerCenter, now: clock.now, notify: notifier.notify });
    expect(first.errors).toBe(1);
    expect((await store.readUpgrade(upgradeId))!.record).toMatchObject({ status: 'Failed', notifiedAt: undefined });

    clock.advance(MINUTE);
    await run({ partnerCenter, now: clock.now, notify: notifier.notify });
    expect(notifier.sent).toEqual([expect.objectContaining({ event: 'upgrade.failed', upgradeId, status: 'Failed' })]);
    expect(partnerCenter.callsFor(upgradeId)).toBe(1); // finishing it needs no new Partner Center call
    expect((await store.readUpgrade(upgradeId))!.record.scheduleKey).toBe('');
  });

  it('writes a heartbeat row per run and stops calling Partner Center when credentials are rejected', async () => {
    const clock = wallClock(T0 + 7);
    const a = await track(store, clock.now());
    const b = await track(store, clock.now());
    const partnerCenter = new ScriptedPartnerCenter()
      .script(a.upgradeId, new FakePartnerCenterError('auth', undefined, 401))
      .script(b.upgradeId, new FakePartnerCenterError('auth', undefined, 401));
    const summary = await run({ partnerCenter, now: clock.now, config: pollConfig({ concurrency: 1 }) });
    expect(summary).toMatchObject({ stoppedBy: 'auth', polled: 1, errors: 1 });
    const [latest] = await latestPollRuns(tables, 1);
    expect(latest).toMatchObject({ runId: summary.runId, polled: 1, errors: 1, stoppedBy: 'auth' });
    expect(latest.finishedAt).toBeDefined();
  });
});
