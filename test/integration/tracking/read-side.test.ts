import type { UpgradeRecord } from '../../../shared/tracking/records';
import { InvalidContinuationTokenError, scheduleRowKey } from '../../../shared/tracking/store';
import { acceptAndTrack, guid, testStore } from './helpers';
import { listEligibilityChecks } from '../../helpers/tracking-tables';

const T0 = Date.parse('2026-02-01T00:00:00.000Z');

describe('read side', () => {
  const { store, tables } = testStore('trkread');

  it('lists a customer’s upgrades newest first, page by page with a continuation token', async () => {
    const customerId = guid();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const upgradeId = guid();
      ids.push(upgradeId);
      await acceptAndTrack(store, { upgradeId, customerId, productFamily: 'Azure' }, T0 + i * 1_000);
    }
    // someone else
    await acceptAndTrack(store, { upgradeId: guid(), customerId: guid(), productFamily: 'Azure' });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await store.listCustomerUpgrades(customerId, { pageSize: 3, continuationToken: token });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((i) => i.upgradeId));
      token = page.continuationToken;
      pages++;
    } while (token && pages < 10);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
  });

  it('answers an empty page for an unknown customer and refuses a forged continuation token', async () => {
    expect(await store.listCustomerUpgrades(guid())).toEqual({ items: [] });
    await expect(store.listCustomerUpgrades(guid(), { continuationToken: 'not-a-token' })).rejects.toThrow(
      InvalidContinuationTokenError,
    );
  });

  it('returns undefined for an unknown upgrade', async () => {
    expect(await store.getUpgrade(guid())).toBeUndefined();
  });

  it('records eligibility checks and lists them newest first; a retried write is one row', async () => {
    const customerId = guid();
    const older = {
      customerId,
      productFamily: 'Azure',
      isEligible: false,
      reason: 'Has reserved instances',
      checkedAt: new Date(T0).toISOString(),
    };
    const newer = {
      customerId,
      productFamily: 'Azure',
      isEligible: true,
      upgradeId: guid(),
      checkedAt: new Date(T0 + 5_000).toISOString(),
    };
    await store.recordEligibilityCheck(older);
    await store.recordEligibilityCheck(newer);
    await store.recordEligibilityCheck(newer); // retry
    const checks = await listEligibilityChecks(tables, customerId);
    expect(checks).toEqual([
      expect.objectContaining({ isEligible: true, upgradeId: newer.upgradeId, checkedAt: newer.checkedAt }),
      expect.objectContaining({ isEligible: false, reason: 'Has reserved instances', checkedAt: older.checkedAt }),
    ]);
  });
});

describe('entity size limits on the real service', () => {
  const { store } = testStore('trksize');

  it('stores an upgrade with an oversized line-item array, truncated safely with its real count', async () => {
    const upgradeId = guid();
    await acceptAndTrack(store, { upgradeId, customerId: guid(), productFamily: 'Azure' }, T0);
    const lineItems = Array.from({ length: 4000 }, (_, i) => ({
      sourceProduct: { id: `legacy-${i}`, name: `Legacy subscription ${i} ${'x'.repeat(150)}` },
      targetProduct: { id: 'DZH318Z0BCZC', name: 'Azure plan' },
      status: 'completed',
      errorDetails: { code: '0', description: 'd'.repeat(50) },
    }));
    // The poll's own write: a claim, then the commit merging the observation onto the upgrade row.
    const poll = async (upgrade: Partial<UpgradeRecord>, at: number) => {
      const [entry] = await collect(store.dueEntries(store.shardOf(upgradeId), at));
      const claim = await store.claim(entry, { owner: 'test', until: at + 60_000 });
      const dueAt = at + 60_000;
      expect(
        await store.commitPoll(entry, claim!, {
          upgradeId,
          upgrade: { ...upgrade, scheduleKey: scheduleRowKey(dueAt, upgradeId) },
          schedule: { kind: 'move', dueAt, state: entry.state },
        }),
      ).toBe(true);
      return dueAt;
    };
    const next = await poll({ lineItems, lineItemCount: lineItems.length, lastError: 'e'.repeat(100_000) }, T0);
    const view = (await store.getUpgrade(upgradeId))!;
    expect(view.lineItemsTruncated).toBe(true);
    expect(view.lineItemCount).toBe(4000);
    expect(view.lineItems.length).toBeGreaterThan(500); // ~240,000 characters of ~390-character items
    expect(view.lineItems).toEqual(lineItems.slice(0, view.lineItems.length));
    expect(view.lastError!.length).toBeLessThanOrEqual(1_000);

    // A later, smaller observation replaces them whole (a merge leaves the extra chunks, which are no longer read).
    await poll({ lineItems: lineItems.slice(0, 2), lineItemCount: 2, lineItemsTruncated: false }, next);
    const smaller = (await store.getUpgrade(upgradeId))!;
    expect(smaller).toMatchObject({ lineItems: lineItems.slice(0, 2), lineItemCount: 2, lineItemsTruncated: false });
  });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
