import { noTelemetry } from '../../../shared/telemetry/telemetry';
import { pollDueUpgrades } from '../../../shared/tracking/poll-run';
import type { UpgradeRecord } from '../../../shared/tracking/records';
import { newUpgradeRecord, startedRecord } from '../../../shared/tracking/start-tracking';
import { TrackingStore } from '../../../shared/tracking/store';
import {
  CountingTables,
  guid,
  pollConfig,
  RecordingNotifier,
  RecordingTracker,
  ScriptedPartnerCenter,
  testTables,
} from './helpers';
import { seedTrackingTable } from '../../../dev/tracking-seed';

const NOW = Date.parse('2026-05-01T12:00:00.000Z');
const TRACKED = 10_000;
const DUE = 100;

/** An upgrade as startTracking leaves it, tracked a day before NOW, due at `dueAt`. */
function tracked(upgradeId: string, dueAt: number): UpgradeRecord {
  const trackedAt = NOW - 86_400_000;
  const accepted = newUpgradeRecord({ upgradeId, customerId: guid(), productFamily: 'Azure' }, trackedAt);
  return startedRecord(accepted, trackedAt, dueAt);
}

describe('poll run cost is O(what is due)', () => {
  it(`with ${TRACKED} upgrades tracked and ${DUE} due, reads and polls only those ${DUE}`, async () => {
    const tables = testTables('trkscale');
    // the first DUE are due now or earlier; the rest between 1 minute and ~1 week ahead
    const rows = Array.from({ length: TRACKED }, (_, i) =>
      tracked(guid(), i < DUE ? NOW - i * 1_000 : NOW + 60_000 + i * 60_000),
    );
    // Seed fast: transactions grouped by partition, 100 per batch. The customer index is left out: the poller never
    // reads it, and the counting wrapper below proves that.
    await seedTrackingTable(tables, rows, 8);
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
      resend: new RecordingTracker().send,
      now: () => NOW,
    });

    expect(summary).toMatchObject({ due: DUE, polled: DUE, changed: DUE, errors: 0 });
    // Partner Center: exactly the due upgrades, once each
    expect(partnerCenter.calls).toHaveLength(DUE);
    expect(new Set(partnerCenter.calls.map((c) => c.upgradeId))).toEqual(dueIds);
    // Table reads: per shard, one range query of the due schedule rows and one of the accepted rows left waiting,
    // returning only the due rows ...
    const queries = counting.queries.get('tracking') ?? [];
    expect(queries.filter((q) => q.includes("RowKey ge 't!'"))).toHaveLength(store.shards.length);
    expect(queries.filter((q) => q.includes("RowKey ge 'a!'"))).toHaveLength(store.shards.length);
    expect(queries).toHaveLength(2 * store.shards.length);
    expect(counting.rowsRead.get('tracking')).toBe(DUE);
    // ... and not a single point read: a poll never reads the upgrade row (its schedule row carries what it needs)
    expect(counting.pointReads.get('tracking')).toBeUndefined();
    expect(counting.queries.get('customerUpgrades')).toBeUndefined();
    // Writes: two per poll, the claim and the commit transaction; none to the customer index.
    expect(counting.writes.get('tracking')).toEqual({ updateEntity: DUE, submitTransaction: DUE });
    expect(counting.writes.get('customerUpgrades')).toBeUndefined();

    // and the due ones moved forward in the schedule: a second run at the same time finds nothing
    counting.reset();
    const again = await pollDueUpgrades({
      store,
      partnerCenter,
      config: pollConfig(),
      telemetry: noTelemetry,
      notify: new RecordingNotifier().notify,
      resend: new RecordingTracker().send,
      now: () => NOW,
    });
    expect(again).toMatchObject({ due: 0, polled: 0 });
    expect(counting.rowsRead.get('tracking') ?? 0).toBe(0);
  }, 120_000);
});

describe('due rows of one shard over several pages', () => {
  it('reads every due row once, oldest first, across page boundaries; stopping early leaves nothing behind', async () => {
    const tables = testTables('trkpages');
    const store = new TrackingStore(tables);
    const shard = store.shards[0];
    const rows: UpgradeRecord[] = [];
    while (rows.length < 2_300) {
      const upgradeId = guid();
      if (store.shardOf(upgradeId) !== shard) continue;
      rows.push(tracked(upgradeId, NOW - 3_000_000 + rows.length * 1_000));
    }
    await seedTrackingTable(tables, rows, 4);
    const read: string[] = [];
    for await (const entry of store.dueEntries(shard, NOW)) read.push(entry.rowKey);
    expect(read).toEqual(rows.map((r) => r.scheduleKey).sort());

    // A consumer that stops after a few rows (a run out of budget) ends the query, read-ahead included.
    const early: string[] = [];
    for await (const entry of store.dueEntries(shard, NOW)) {
      early.push(entry.rowKey);
      if (early.length === 5) break;
    }
    expect(early).toEqual(read.slice(0, 5));
  }, 120_000);
});
