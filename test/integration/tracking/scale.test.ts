import { noTelemetry } from '../../../shared/telemetry/telemetry';
import { upgradeKeys, upgradeToEntity } from '../../../shared/tracking/entities';
import { pollDueUpgrades } from '../../../shared/tracking/poll-run';
import type { ScheduleRow } from '../../../shared/tracking/records';
import { newUpgradeRecord } from '../../../shared/tracking/start-tracking';
import { scheduleRowKey, submitChunked, TrackingStore } from '../../../shared/tracking/store';
import { CountingTables, guid, pollConfig, RecordingNotifier, ScriptedPartnerCenter, testTables } from './helpers';

const NOW = Date.parse('2026-05-01T12:00:00.000Z');
const TRACKED = 10_000;
const DUE = 100;

/** A schedule row as tracking writes it, for an upgrade tracked a day before NOW. */
function scheduleRow(store: TrackingStore, upgradeId: string, dueAt: number): ScheduleRow {
  return {
    shard: store.shardOf(upgradeId),
    rowKey: scheduleRowKey(dueAt, upgradeId),
    dueAt,
    upgradeId,
    customerId: guid(),
    productFamily: 'Azure',
    trackedAt: new Date(NOW - 86_400_000).toISOString(),
  };
}

describe('poll run cost is O(what is due)', () => {
  it(`with ${TRACKED} upgrades tracked and ${DUE} due, reads and polls only those ${DUE}`, async () => {
    const tables = testTables('trkscale');
    const seeding = new TrackingStore(tables);
    // the first DUE are due now or earlier; the rest between 1 minute and ~1 week ahead
    const rows = Array.from({ length: TRACKED }, (_, i) =>
      scheduleRow(seeding, guid(), i < DUE ? NOW - i * 1_000 : NOW + 60_000 + i * 60_000),
    );
    // Seed fast: transactions grouped by partition, 100 per batch (schedule shards; Upgrades buckets). The customer
    // index is left out: the poller never reads it, and the counting wrapper below proves that.
    await seeding.insertScheduleRows(rows, 4);
    await submitChunked(
      await tables.get('upgrades'),
      rows.map((row) => upgradeToEntity(newUpgradeRecord(row))),
      8,
    );
    const counting = new CountingTables(tables);
    const store = new TrackingStore(counting);
    const partnerCenter = new ScriptedPartnerCenter();
    for (const row of rows) partnerCenter.script(row.upgradeId, 'InProgress');
    const dueIds = new Set(rows.slice(0, DUE).map((r) => r.upgradeId));

    const summary = await pollDueUpgrades({
      store,
      partnerCenter,
      config: pollConfig({ concurrency: 16 }),
      telemetry: noTelemetry,
      notify: new RecordingNotifier().notify,
      now: () => NOW,
    });

    expect(summary).toMatchObject({ due: DUE, polled: DUE, changed: DUE, errors: 0 });
    // Partner Center: exactly the due upgrades, once each
    expect(partnerCenter.calls).toHaveLength(DUE);
    expect(new Set(partnerCenter.calls.map((c) => c.upgradeId))).toEqual(dueIds);
    // Table reads: one range query per schedule shard returning only the due rows ...
    expect(counting.queries.get('pollSchedule')).toHaveLength(store.shards.length);
    expect(counting.rowsRead.get('pollSchedule')).toBe(DUE);
    // ... point reads of the due upgrades only, and no query of Upgrades, history or the customer index
    const pointReads = counting.pointReads.get('upgrades') ?? [];
    expect(new Set(pointReads)).toEqual(
      new Set([...dueIds].map((id) => upgradeKeys(id).partitionKey + '/' + upgradeKeys(id).rowKey)),
    );
    expect(counting.queries.get('upgrades')).toBeUndefined();
    expect(counting.queries.get('upgradeHistory')).toBeUndefined();
    expect(counting.queries.get('customerUpgrades')).toBeUndefined();

    // and the due ones moved forward in the schedule: a second run at the same time finds nothing
    counting.reset();
    const again = await pollDueUpgrades({
      store,
      partnerCenter,
      config: pollConfig(),
      telemetry: noTelemetry,
      notify: new RecordingNotifier().notify,
      now: () => NOW,
    });
    expect(again).toMatchObject({ due: 0, polled: 0 });
    expect(counting.rowsRead.get('pollSchedule') ?? 0).toBe(0);
  }, 120_000);
});

describe('due rows of one shard over several pages', () => {
  it('reads every due row once, oldest first, across page boundaries; stopping early leaves nothing behind', async () => {
    const store = new TrackingStore(testTables('trkpages'));
    const shard = store.shards[0];
    const rows: ScheduleRow[] = [];
    while (rows.length < 2_300) {
      const upgradeId = guid();
      if (store.shardOf(upgradeId) !== shard) continue;
      rows.push(scheduleRow(store, upgradeId, NOW - 3_000_000 + rows.length * 1_000));
    }
    await store.insertScheduleRows(rows, 4);
    const read: string[] = [];
    for await (const row of store.dueRows(shard, NOW)) read.push(row.rowKey);
    expect(read).toEqual(rows.map((r) => r.rowKey).sort());

    // A consumer that stops after a few rows (a run out of budget) ends the query, read-ahead included.
    const early: string[] = [];
    for await (const row of store.dueRows(shard, NOW)) {
      early.push(row.rowKey);
      if (early.length === 5) break;
    }
    expect(early).toEqual(read.slice(0, 5));
  }, 120_000);
});
