import { startTracking } from '../../../shared/tracking/start-tracking';
import { InvalidContinuationTokenError } from '../../../shared/tracking/store';
import { guid, testStore } from './helpers';

const T0 = Date.parse('2026-02-01T00:00:00.000Z');

describe('read side', () => {
  const { store } = testStore('trkread');

  it('lists a customer’s upgrades newest first, page by page with a continuation token', async () => {
    const customerId = guid();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const upgradeId = guid();
      ids.push(upgradeId);
      await startTracking({ upgradeId, customerId, productFamily: 'Azure' }, { store, now: () => T0 + i * 1_000 });
    }
    await startTracking({ upgradeId: guid(), customerId: guid(), productFamily: 'Azure' }, { store }); // someone else
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
    const checks = await store.listEligibilityChecks(customerId);
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
    await startTracking({ upgradeId, customerId: guid(), productFamily: 'Azure' }, { store, now: () => T0 });
    const lineItems = Array.from({ length: 4000 }, (_, i) => ({
      sourceProduct: { id: `legacy-${i}`, name: `Legacy subscription ${i} ${'x'.repeat(150)}` },
      targetProduct: { id: 'DZH318Z0BCZC', name: 'Azure plan' },
      status: 'completed',
      errorDetails: { code: '0', description: 'd'.repeat(50) },
    }));
    await store.mutateUpgrade(upgradeId, (current) => ({
      result: undefined,
      write: { ...current!, lineItems, lineItemCount: lineItems.length, lastError: 'e'.repeat(100_000) },
    }));
    const view = (await store.getUpgrade(upgradeId))!;
    expect(view.lineItemsTruncated).toBe(true);
    expect(view.lineItemCount).toBe(4000);
    expect(view.lineItems.length).toBeGreaterThan(500); // ~240,000 characters of ~390-character items
    expect(view.lineItems).toEqual(lineItems.slice(0, view.lineItems.length));
    expect(view.lastError!.length).toBeLessThanOrEqual(1_000);
  });
});
