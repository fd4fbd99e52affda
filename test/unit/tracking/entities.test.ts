import type { UpgradeLineItem } from '../../../shared/partner-center/types';
import {
  acceptedRowKey,
  historyKeys,
  historyRange,
  LINE_ITEM_CHUNK_CHARS,
  LINE_ITEM_MAX_CHUNKS,
  packLineItems,
  pollStateOf,
  scheduleFromEntity,
  scheduleRowKey,
  scheduleToEntity,
  shardOf,
  upgradeChangesToEntity,
  upgradeFromEntity,
  upgradeKeys,
  upgradeToEntity,
} from '../../../shared/tracking/entities';
import { newUpgradeRecord, startedRecord } from '../../../shared/tracking/start-tracking';
import { notificationEventId } from '../../../shared/callbacks/events';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const message = {
  upgradeId: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  customerId: '0a1b2c3d-4e5f-6789-abcd-ef0123456789',
  productFamily: 'Azure',
};

const item = (i: number, padding = 0): UpgradeLineItem => ({
  sourceProduct: { id: `src-${i}`, name: `Legacy subscription ${i}${'x'.repeat(padding)}` },
  targetProduct: { id: `dst-${i}`, name: 'Azure plan' },
  status: 'Completed',
});

describe('entity size rules', () => {
  it('splits line items over several properties and reads them back whole', () => {
    const items = Array.from({ length: 500 }, (_, i) => item(i, 100));
    const record = { ...newUpgradeRecord(message, T0), lineItems: items, lineItemCount: items.length };
    const entity = upgradeToEntity(record);
    expect(Number(entity.lineItemChunks)).toBeGreaterThan(1);
    for (const [key, value] of Object.entries(entity)) {
      if (typeof value === 'string') expect(value.length).toBeLessThanOrEqual(LINE_ITEM_CHUNK_CHARS);
      expect(key).toBeTruthy();
    }
    const back = upgradeFromEntity(entity);
    expect(back.lineItems).toEqual(items);
    expect(back.lineItemsTruncated).toBe(false);
  });

  it('truncates an oversized array to the items that fit, keeping the real count', () => {
    const items = Array.from({ length: 5000 }, (_, i) => item(i, 200));
    const packed = packLineItems(items);
    expect(packed.truncated).toBe(true);
    expect(packed.chunks.length).toBeLessThanOrEqual(LINE_ITEM_MAX_CHUNKS);
    const back = upgradeFromEntity(
      upgradeToEntity({ ...newUpgradeRecord(message, T0), lineItems: items, lineItemCount: 5000 }),
    );
    expect(back.lineItemsTruncated).toBe(true);
    expect(back.lineItemCount).toBe(5000);
    expect(back.lineItems).toEqual(items.slice(0, back.lineItems.length));
    // whole entity stays well under 1 MiB (UTF-16)
    const size = JSON.stringify(upgradeToEntity({ ...back, lineItems: items })).length * 2;
    expect(size).toBeLessThan(1024 * 1024);
  });

  it('gives one event id per upgrade and final status', () => {
    const a = notificationEventId('3fa85f64-5717-4562-b3fc-2c963f66afa6', 'Completed');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(notificationEventId('3FA85F64-5717-4562-B3FC-2C963F66AFA6', 'Completed')).toBe(a);
    expect(notificationEventId('3fa85f64-5717-4562-b3fc-2c963f66afa6', 'Failed')).not.toBe(a);
  });
});

describe('the Tracking table rows of one upgrade', () => {
  it('all live in its shard, each kind under its own RowKey prefix', () => {
    const keys = [
      upgradeKeys(message.upgradeId),
      historyKeys(message.upgradeId, 1),
      { partitionKey: shardOf(message.upgradeId), rowKey: scheduleRowKey(T0, message.upgradeId) },
      { partitionKey: shardOf(message.upgradeId), rowKey: acceptedRowKey(newUpgradeRecord(message, T0)) },
    ];
    expect(new Set(keys.map((k) => k.partitionKey))).toEqual(new Set([shardOf(message.upgradeId)]));
    expect(keys.map((k) => k.rowKey.slice(0, 2))).toEqual(['u!', 'h!', 't!', 'a!']);
  });

  it("an upgrade's history range holds its rows only, not those of an id that extends it", () => {
    const range = historyRange('abc', 3);
    const inRange = (rowKey: string) => rowKey > range.after && rowKey <= range.upTo;
    expect([1, 2, 3].map((n) => inRange(historyKeys('abc', n).rowKey))).toEqual([true, true, true]);
    expect(inRange(historyKeys('abc', 4).rowKey)).toBe(false);
    expect(inRange(historyKeys('abcd', 1).rowKey)).toBe(false);
    expect(inRange(historyKeys('ab', 1).rowKey)).toBe(false);
  });

  it('a schedule row carries the poll state and the lease, and reads back as written', () => {
    const record = startedRecord(newUpgradeRecord(message, T0), T0, T0 + 30_000);
    const lease = { owner: 'run-1', until: T0 + 60_000 };
    const entity = scheduleToEntity(record, T0 + 30_000, lease);
    expect(entity.rowKey).toBe(record.scheduleKey);
    const back = scheduleFromEntity({ ...entity, etag: 'W/"1"' });
    expect(back).toEqual({
      shard: shardOf(message.upgradeId),
      rowKey: record.scheduleKey,
      dueAt: T0 + 30_000,
      etag: 'W/"1"',
      state: pollStateOf(record),
      lease,
    });
    expect(scheduleFromEntity({ ...scheduleToEntity(record, T0), etag: '*' }).lease).toBeUndefined();
  });

  it('a merge names only the fields that change, and clears one set to undefined', () => {
    const record = { ...newUpgradeRecord(message, T0), nextPollAt: new Date(T0).toISOString() };
    const stored = upgradeToEntity({ ...record, errorDetails: { code: '1', description: 'd' } });
    const merge = upgradeChangesToEntity(message.upgradeId, {
      status: 'Completed',
      nextPollAt: undefined,
      errorDetails: undefined,
    });
    expect(merge).toEqual({
      ...upgradeKeys(message.upgradeId),
      status: 'Completed',
      nextPollAt: '',
      errorDetails: '',
    });
    const merged = upgradeFromEntity({ ...stored, ...merge });
    expect(merged).toEqual({ ...record, status: 'Completed', nextPollAt: undefined, errorDetails: undefined });
  });
});
