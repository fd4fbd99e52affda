import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { acceptUpgrade } from '../../../shared/tracking/accept';
import { pollDueUpgrades, RESEND_AFTER_MS } from '../../../shared/tracking/poll-run';
import { startTracking } from '../../../shared/tracking/start-tracking';
import { TrackingStore } from '../../../shared/tracking/store';
import { noTelemetry } from '../../../shared/telemetry/telemetry';
import {
  FakePartnerCenterError,
  guid,
  pollConfig,
  RecordingNotifier,
  RecordingTracker,
  ScriptedPartnerCenter,
  testStore,
  trackingRows,
} from './helpers';
import { listRejectedMessages } from '../../helpers/tracking-tables';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

describe('accepting an upgrade, then startTracking, against Azurite', () => {
  const { store, tables } = testStore('trkstart');

  async function dueIds(at: number): Promise<string[]> {
    const ids: string[] = [];
    for (const shard of store.shards)
      for await (const entry of store.dueEntries(shard, at)) ids.push(entry.state.upgradeId);
    return ids;
  }

  it('an accepted upgrade is readable at once and not scheduled; startTracking schedules it after the first delay', async () => {
    const upgradeId = guid();
    const customerId = guid();
    const tracker = new RecordingTracker();
    const message = { upgradeId, customerId, productFamily: 'Azure', source: 'start-upgrade' };
    const accepted = await acceptUpgrade({ store, send: tracker.send, now: () => T0 }, message);
    expect(accepted).toMatchObject({ outcome: 'recorded', record: { upgradeId, status: 'Pending' } });
    expect(tracker.sent).toEqual([message]);
    // Readable (the read API answers 200), listed for its customer, but in nobody's poll schedule.
    expect(await store.getUpgrade(upgradeId)).toMatchObject({ upgradeId, customerId, status: 'Pending', history: [] });
    expect((await store.getUpgrade(upgradeId))?.nextPollAt).toBeUndefined();
    expect((await store.listCustomerUpgrades(customerId)).items.map((i) => i.upgradeId)).toEqual([upgradeId]);
    expect(await dueIds(T0 + 365 * 86_400_000)).not.toContain(upgradeId);
    expect(await trackingRows(tables, 'a', upgradeId)).toHaveLength(1);

    // The queue trigger does the first real work: the first poll is due POLL_FIRST_DELAY_SECONDS later.
    const result = await startTracking(tracker.sent[0], { store, firstPollDelayMs: 30_000, now: () => T0 + 1_000 });
    expect(result).toEqual({ outcome: 'tracked', upgradeId, nextPollAt: new Date(T0 + 31_000).toISOString() });
    expect(await dueIds(T0 + 30_999)).not.toContain(upgradeId);
    expect(await dueIds(T0 + 31_000)).toContain(upgradeId);
    const { record } = (await store.readUpgrade(upgradeId))!;
    expect(record).toMatchObject({
      createdAt: new Date(T0).toISOString(),
      trackingStartedAt: new Date(T0 + 1_000).toISOString(),
      nextPollAt: new Date(T0 + 31_000).toISOString(),
    });
    expect((await trackingRows(tables, 't', upgradeId)).map((r) => r.rowKey)).toEqual([record.scheduleKey]);
    expect(await trackingRows(tables, 'a', upgradeId)).toEqual([]);
    expect((await store.listCustomerUpgrades(customerId)).items).toHaveLength(1);
  });

  it('accepting an upgrade recorded before writes nothing and sends its message again', async () => {
    const message = { upgradeId: guid(), customerId: guid(), productFamily: 'Azure' };
    const tracker = new RecordingTracker();
    await acceptUpgrade({ store, send: tracker.send, now: () => T0 }, message);
    const before = await store.readUpgrade(message.upgradeId);
    const again = await acceptUpgrade({ store, send: tracker.send, now: () => T0 + 5_000 }, message);
    expect(again).toEqual({ outcome: 'known' });
    expect((await store.readUpgrade(message.upgradeId))?.etag).toBe(before?.etag);
    expect(tracker.sent).toEqual([message, message]);
  });

  it('a message for an upgrade nobody recorded is tracked only once Partner Center vouches for it (one status call)', async () => {
    const upgradeId = guid();
    const customerId = guid();
    const partnerCenter = new ScriptedPartnerCenter().script(upgradeId, 'InProgress');
    const result = await startTracking(
      { upgradeId: upgradeId.toUpperCase(), customerId, productFamily: 'Azure', source: 'webhook' },
      { store, firstPollDelayMs: 0, partnerCenter, now: () => T0 },
    );
    expect(result).toEqual({ outcome: 'tracked', upgradeId, nextPollAt: new Date(T0).toISOString() });
    expect(partnerCenter.calls.map((c) => c.upgradeId)).toEqual([upgradeId]);
    const view = await store.getUpgrade(upgradeId);
    expect(view).toMatchObject({ upgradeId, customerId, status: 'Pending', attempts: 0, history: [] });
    expect(await dueIds(T0)).toContain(upgradeId);
    const page = await store.listCustomerUpgrades(customerId);
    expect(page.items.map((i) => i.upgradeId)).toEqual([upgradeId]);
    // Recorded now: a duplicate asks nobody.
    await startTracking(
      { upgradeId, customerId, productFamily: 'Azure' },
      { store, firstPollDelayMs: 0, partnerCenter },
    );
    expect(partnerCenter.calls).toHaveLength(1);
  });

  it('a message for an upgrade Partner Center does not know (or with no way to ask) writes nothing and is recorded', async () => {
    const deps = { store, firstPollDelayMs: 0, now: () => T0 };
    const unknown = { upgradeId: guid(), customerId: guid(), productFamily: 'Azure' };
    const refused = await startTracking(unknown, { ...deps, partnerCenter: new ScriptedPartnerCenter() });
    expect(refused).toMatchObject({ outcome: 'rejected', upgradeId: unknown.upgradeId });
    const unasked = { upgradeId: guid(), customerId: guid(), productFamily: 'Azure' };
    expect(await startTracking(unasked, deps)).toMatchObject({ outcome: 'rejected', upgradeId: unasked.upgradeId });
    for (const { upgradeId, customerId } of [unknown, unasked]) {
      expect(await store.readUpgrade(upgradeId)).toBeUndefined();
      expect(await trackingRows(tables, 't', upgradeId)).toEqual([]);
      expect((await store.listCustomerUpgrades(customerId)).items).toEqual([]);
    }
    const rejected = (await listRejectedMessages(tables, 'upgrade-tracking')).filter((r) => r.kind === 'unverified');
    for (const { upgradeId } of [unknown, unasked]) {
      expect(rejected.filter((r) => r.message.includes(upgradeId))).toHaveLength(1);
    }
  });

  it('a Partner Center outage while verifying throws (the queue retries) and writes nothing', async () => {
    const upgradeId = guid();
    const partnerCenter = new ScriptedPartnerCenter().script(
      upgradeId,
      new FakePartnerCenterError('transient', undefined, 503),
      'Pending',
    );
    const deps = { store, firstPollDelayMs: 0, partnerCenter, now: () => T0 };
    const message = { upgradeId, customerId: guid(), productFamily: 'Azure' };
    await expect(startTracking(message, deps)).rejects.toThrow('Partner Center transient');
    expect(await store.readUpgrade(upgradeId)).toBeUndefined();
    expect(await startTracking(message, deps)).toMatchObject({ outcome: 'tracked', upgradeId });
  });

  it('a duplicate changes nothing, even after the upgrade moved on', async () => {
    const upgradeId = guid();
    const customerId = guid();
    const message = { upgradeId, customerId, productFamily: 'Azure' };
    await acceptUpgrade({ store, send: () => Promise.resolve(), now: () => T0 }, message);
    await startTracking(message, { store, firstPollDelayMs: 0, now: () => T0 });
    const before = await store.readUpgrade(upgradeId);
    const again = await startTracking(JSON.stringify(message), { store, firstPollDelayMs: 0, now: () => T0 + 5_000 });
    expect(again).toEqual({ outcome: 'duplicate', upgradeId });
    const after = await store.readUpgrade(upgradeId);
    expect(after?.record).toEqual(before?.record);
    expect(after?.etag).toBe(before?.etag);
  });

  it('records a different customer for a known upgrade as a conflict and keeps the first', async () => {
    const upgradeId = guid();
    const first = guid();
    const other = guid();
    const deps = { store, firstPollDelayMs: 0 };
    const partnerCenter = new ScriptedPartnerCenter().script(upgradeId, 'Pending');
    await startTracking(
      { upgradeId, customerId: first, productFamily: 'Azure' },
      { ...deps, partnerCenter, now: () => T0 },
    );
    const result = await startTracking({ upgradeId, customerId: other, productFamily: 'Azure' }, deps);
    expect(result).toMatchObject({ outcome: 'conflict', upgradeId });
    expect((await store.readUpgrade(upgradeId))?.record.customerId).toBe(first);
    const rejected = await listRejectedMessages(tables, 'upgrade-tracking');
    expect(rejected.some((r) => r.kind === 'conflict' && r.reason.includes(other))).toBe(true);
  });

  it('a message naming another customer does not start an accepted upgrade; its own message does', async () => {
    const upgradeId = guid();
    const customerId = guid();
    await acceptUpgrade(
      { store, send: new RecordingTracker().send, now: () => T0 },
      { upgradeId, customerId, productFamily: 'Azure' },
    );
    const deps = { store, firstPollDelayMs: 0, now: () => T0 };
    const forged = await startTracking({ upgradeId, customerId: guid(), productFamily: 'Azure' }, deps);
    expect(forged).toMatchObject({ outcome: 'conflict', upgradeId });
    expect((await store.readUpgrade(upgradeId))?.record.trackingStartedAt).toBeUndefined();
    expect(await startTracking({ upgradeId, customerId, productFamily: 'Azure' }, deps)).toMatchObject({
      outcome: 'tracked',
    });
  });

  it('records an invalid message with its reason and completes (no throw), once per message text', async () => {
    const text = '{"upgradeId": "not-a-guid", "customerId": "x"}';
    const deps = { store, firstPollDelayMs: 0 };
    await expect(startTracking(text, deps)).resolves.toEqual({
      outcome: 'rejected',
      reason: 'upgradeId must be a GUID',
    });
    await startTracking(text, deps);
    await expect(startTracking('not json at all', deps)).resolves.toMatchObject({ outcome: 'rejected' });
    const rejected = await listRejectedMessages(tables, 'upgrade-tracking');
    expect(rejected.filter((r) => r.message === text)).toEqual([
      expect.objectContaining({ kind: 'invalid', reason: 'upgradeId must be a GUID' }),
    ]);
    expect(rejected.some((r) => r.message === 'not json at all' && r.reason === 'message is not valid JSON')).toBe(
      true,
    );
  });

  it('throws on a storage failure so the queue retries', async () => {
    const broken = {
      get: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    };
    await expect(
      startTracking(
        { upgradeId: guid(), customerId: guid(), productFamily: 'Azure' },
        { store: new TrackingStore(broken), firstPollDelayMs: 0 },
      ),
    ).rejects.toThrow('ECONNREFUSED');
  });

  it('duplicated and reordered deliveries, some concurrent, converge on one scheduled upgrade (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 3 }), at: fc.integer({ min: 0, max: 10_000 }) }), {
          minLength: 2,
          maxLength: 6,
        }),
        async (acceptedFirst, deliveries) => {
          const upgradeId = guid();
          const customerId = guid();
          const message = { upgradeId, customerId, productFamily: 'Azure', correlationId: 'c-1' };
          if (acceptedFirst) await acceptUpgrade({ store, send: () => Promise.resolve(), now: () => T0 }, message);
          const partnerCenter = new ScriptedPartnerCenter().script(upgradeId, 'Pending');
          const results = await Promise.all(
            deliveries.map(async ({ delay, at }) => {
              // A few milliseconds apart, drawn by the property: they provoke interleavings, nothing waits on them.
              await sleep(delay);
              return startTracking(message, { store, firstPollDelayMs: 0, partnerCenter, now: () => T0 + at });
            }),
          );
          expect(results.filter((r) => r.outcome === 'tracked')).toHaveLength(1);
          expect(results.filter((r) => r.outcome !== 'tracked').every((r) => r.outcome === 'duplicate')).toBe(true);
          const { record } = (await store.readUpgrade(upgradeId))!;
          // exactly one schedule row, the one the upgrade names; no accepted row left over
          expect((await trackingRows(tables, 't', upgradeId)).map((r) => r.rowKey)).toEqual([record.scheduleKey]);
          expect(await trackingRows(tables, 'a', upgradeId)).toEqual([]);
          const index = (await store.listCustomerUpgrades(customerId)).items;
          expect(index.map((i) => i.upgradeId)).toEqual([upgradeId]);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('an accepted upgrade whose tracking message never arrives', () => {
  it('is re-sent by the poll run once it has waited RESEND_AFTER_MS, with growing pauses, until its tracking starts', async () => {
    const { store, tables } = testStore('trklost');
    const upgradeId = guid();
    const message = { upgradeId, customerId: guid(), productFamily: 'Azure' };
    const lost = new RecordingTracker();
    lost.lostLeft = 1;
    const accepted = await acceptUpgrade({ store, send: lost.send, now: () => T0 }, message);
    expect(accepted.sendError).toBeInstanceOf(Error);

    const resent = new RecordingTracker();
    const partnerCenter = new ScriptedPartnerCenter().script(upgradeId, 'InProgress');
    const run = (at: number) =>
      pollDueUpgrades({
        store,
        partnerCenter,
        config: pollConfig(),
        telemetry: noTelemetry,
        notify: new RecordingNotifier().notify,
        resend: resent.send,
        now: () => at,
      });
    // Within the queue's own retry window: left alone.
    expect(await run(T0 + RESEND_AFTER_MS - 1)).toMatchObject({ recovered: 0, polled: 0 });
    expect(resent.sent).toEqual([]);
    // Then re-sent once per pause (the pause doubles), and never polled while its tracking has not started.
    expect(await run(T0 + RESEND_AFTER_MS)).toMatchObject({ recovered: 1, polled: 0 });
    expect(await run(T0 + RESEND_AFTER_MS + 2 * RESEND_AFTER_MS - 1)).toMatchObject({ recovered: 0 });
    expect(await run(T0 + RESEND_AFTER_MS + 2 * RESEND_AFTER_MS)).toMatchObject({ recovered: 1 });
    expect(await run(T0 + 3 * RESEND_AFTER_MS + 4 * RESEND_AFTER_MS - 1)).toMatchObject({ recovered: 0 });
    expect(resent.sent).toEqual([message, message]);
    expect(partnerCenter.calls).toEqual([]);

    // The re-sent message reaches startTracking: the upgrade is polled from then on, and nothing is re-sent again.
    const at = T0 + 8 * RESEND_AFTER_MS;
    await startTracking(resent.sent[0], { store, firstPollDelayMs: 0, now: () => at });
    expect(await trackingRows(tables, 'a', upgradeId)).toEqual([]);
    expect(await run(at)).toMatchObject({ recovered: 0, polled: 1, changed: 1 });
    expect(await run(at + 365 * 86_400_000)).toMatchObject({ recovered: 0 });
    expect(resent.sent).toHaveLength(2);
  });
});
