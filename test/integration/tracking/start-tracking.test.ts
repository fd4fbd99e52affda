import fc from 'fast-check';
import { startTracking } from '../../../shared/tracking/start-tracking';
import { pollDueUpgrades } from '../../../shared/tracking/poll-run';
import { scheduleRowKey, TrackingStore } from '../../../shared/tracking/store';
import { noTelemetry } from '../../../shared/telemetry/telemetry';
import { guid, pollConfig, RecordingNotifier, ScriptedPartnerCenter, snapshot, testStore } from './helpers';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

describe('startTracking against Azurite', () => {
  const { store, tables } = testStore('trkstart');

  it('tracks a new upgrade once: Upgrades row, customer index, and due for its first poll now', async () => {
    const upgradeId = guid();
    const customerId = guid();
    const result = await startTracking(
      { upgradeId: upgradeId.toUpperCase(), customerId, productFamily: 'Azure', source: 'webhook' },
      { store, now: () => T0 },
    );
    expect(result).toEqual({ outcome: 'tracked', upgradeId, nextPollAt: new Date(T0).toISOString() });

    const view = await store.getUpgrade(upgradeId);
    expect(view).toMatchObject({ upgradeId, customerId, status: 'Pending', attempts: 0, history: [] });
    const due = [];
    for await (const row of store.dueRows(store.shardOf(upgradeId), T0)) due.push(row.upgradeId);
    expect(due).toContain(upgradeId);
    const page = await store.listCustomerUpgrades(customerId);
    expect(page.items.map((i) => i.upgradeId)).toEqual([upgradeId]);
  });

  it('a duplicate changes nothing, even after the upgrade moved on', async () => {
    const upgradeId = guid();
    const customerId = guid();
    const message = { upgradeId, customerId, productFamily: 'Azure' };
    await startTracking(message, { store, now: () => T0 });
    const before = await store.readUpgrade(upgradeId);
    const again = await startTracking(JSON.stringify(message), { store, now: () => T0 + 5_000 });
    expect(again).toEqual({ outcome: 'duplicate', upgradeId });
    const after = await store.readUpgrade(upgradeId);
    expect(after?.record).toEqual(before?.record);
  });

  it('records a different customer for a known upgrade as a conflict and keeps the first', async () => {
    const upgradeId = guid();
    const first = guid();
    const other = guid();
    await startTracking({ upgradeId, customerId: first, productFamily: 'Azure' }, { store, now: () => T0 });
    const result = await startTracking({ upgradeId, customerId: other, productFamily: 'Azure' }, { store });
    expect(result).toMatchObject({ outcome: 'conflict', upgradeId });
    expect((await store.readUpgrade(upgradeId))?.record.customerId).toBe(first);
    const rejected = await store.listRejectedMessages('upgrade-tracking');
    expect(rejected.some((r) => r.kind === 'conflict' && r.reason.includes(other))).toBe(true);
  });

  it('records an invalid message with its reason and completes (no throw), once per message text', async () => {
    const text = '{"upgradeId": "not-a-guid", "customerId": "x"}';
    await expect(startTracking(text, { store })).resolves.toEqual({
      outcome: 'rejected',
      reason: 'upgradeId must be a GUID',
    });
    await startTracking(text, { store });
    await expect(startTracking('not json at all', { store })).resolves.toMatchObject({ outcome: 'rejected' });
    const rejected = await store.listRejectedMessages('upgrade-tracking');
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
        { store: new TrackingStore(broken) },
      ),
    ).rejects.toThrow('ECONNREFUSED');
  });

  it('duplicated and reordered deliveries, some concurrent, converge on one upgrade (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 3 }), at: fc.integer({ min: 0, max: 10_000 }) }), {
          minLength: 2,
          maxLength: 6,
        }),
        async (deliveries) => {
          const upgradeId = guid();
          const customerId = guid();
          const message = { upgradeId, customerId, productFamily: 'Azure', correlationId: 'c-1' };
          const results = await Promise.all(
            deliveries.map(async ({ delay, at }) => {
              await new Promise((resolve) => setTimeout(resolve, delay));
              return startTracking(message, { store, now: () => T0 + at });
            }),
          );
          expect(results.filter((r) => r.outcome === 'tracked')).toHaveLength(1);
          expect(results.filter((r) => r.outcome !== 'tracked').every((r) => r.outcome === 'duplicate')).toBe(true);
          const { record } = (await store.readUpgrade(upgradeId))!;
          // exactly one live schedule row points at the upgrade, and it exists
          const schedule = await snapshot(tables, 'pollSchedule');
          const live = schedule.filter((r) => r.upgradeId === upgradeId);
          expect(live.map((r) => r.rowKey)).toContain(record.scheduleKey);
          const index = (await store.listCustomerUpgrades(customerId)).items;
          expect(index.map((i) => i.upgradeId)).toEqual([upgradeId]);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('a crash after the schedule row but before the Upgrades row is finished by the next poll run', async () => {
    const upgradeId = guid();
    const customerId = guid();
    // what a first delivery leaves when it dies right after its first write
    await store.insertScheduleRow({
      shard: store.shardOf(upgradeId),
      rowKey: scheduleRowKey(T0, upgradeId),
      dueAt: T0,
      upgradeId,
      customerId,
      productFamily: 'Azure',
      trackedAt: new Date(T0).toISOString(),
    });
    const partnerCenter = new ScriptedPartnerCenter().script(upgradeId, 'InProgress');
    const summary = await pollDueUpgrades({
      store,
      partnerCenter,
      config: pollConfig(),
      telemetry: noTelemetry,
      notify: new RecordingNotifier().notify,
      now: () => T0 + 1_000,
    });
    expect(summary.recovered).toBeGreaterThanOrEqual(1);
    const view = await store.getUpgrade(upgradeId);
    expect(view).toMatchObject({ customerId, status: 'InProgress', createdAt: new Date(T0).toISOString() });
    expect((await store.listCustomerUpgrades(customerId)).items).toHaveLength(1);
  });
});
