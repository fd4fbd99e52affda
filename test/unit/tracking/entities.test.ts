import type { UpgradeLineItem } from '../../../shared/partner-center/types';
import {
  LINE_ITEM_CHUNK_CHARS,
  LINE_ITEM_MAX_CHUNKS,
  packLineItems,
  upgradeFromEntity,
  upgradeToEntity,
} from '../../../shared/tracking/entities';
import { newUpgradeRecord } from '../../../shared/tracking/start-tracking';
import { notificationEventId } from '../../../shared/callbacks/events';

const item = (i: number, padding = 0): UpgradeLineItem => ({
  sourceProduct: { id: `src-${i}`, name: `Legacy subscription ${i}${'x'.repeat(padding)}` },
  targetProduct: { id: `dst-${i}`, name: 'Azure plan' },
  status: 'Completed',
});

describe('entity size rules', () => {
  it('splits line items over several properties and reads them back whole', () => {
    const items = Array.from({ length: 500 }, (_, i) => item(i, 100));
    const record = { ...newUpgradeRecord(row()), lineItems: items, lineItemCount: items.length };
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
      upgradeToEntity({ ...newUpgradeRecord(row()), lineItems: items, lineItemCount: 5000 }),
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

function row() {
  return {
    shard: 's0',
    rowKey: 'k',
    dueAt: 0,
    upgradeId: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
    customerId: '0a1b2c3d-4e5f-6789-abcd-ef0123456789',
    productFamily: 'Azure',
    trackedAt: '2026-01-01T00:00:00.000Z',
  };
}
