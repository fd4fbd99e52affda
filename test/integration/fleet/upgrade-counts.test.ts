import { randomUUID } from 'node:crypto';
import { seedTrackingTable } from '../../../dev/tracking-seed';
import { newUpgradeRecord, startedRecord } from '../../../shared/tracking/start-tracking';
import type { UpgradeStatus } from '../../../shared/tracking/state';
import { testStore } from '../tracking/helpers';

/** What the fleet summary's upgrade figures come from: the Tracking table's upgrade rows, counted by status. */
describe('TrackingStore.countUpgradesByStatus', () => {
  it('counts every upgrade row by its status across the shards, and nothing else the table holds', async () => {
    const { store, tables } = testStore('upgradecounts');
    expect(await store.countUpgradesByStatus()).toEqual({});
    const statuses: UpgradeStatus[] = [
      ...Array<UpgradeStatus>(7).fill('Pending'),
      ...Array<UpgradeStatus>(5).fill('InProgress'),
      ...Array<UpgradeStatus>(11).fill('Completed'),
      'Failed',
      'Failed',
      'Cancelled',
      'Stale',
      'Unknown',
    ];
    const now = Date.now();
    const records = statuses.map((status) => ({
      ...startedRecord(
        newUpgradeRecord({ upgradeId: randomUUID(), customerId: randomUUID(), productFamily: 'Azure' }, now),
        now,
        now,
      ),
      status,
    }));
    // Each upgrade row comes with its schedule row (what startTracking leaves): those are not upgrades.
    await seedTrackingTable(tables, records);
    expect(await store.countUpgradesByStatus()).toEqual({
      Pending: 7,
      InProgress: 5,
      Completed: 11,
      Failed: 2,
      Cancelled: 1,
      Stale: 1,
      Unknown: 1,
    });
  });
});
