import type { TableClient, TransactionAction } from '@azure/data-tables';
import { scheduleToEntity, upgradeToEntity, type Entity } from '../shared/tracking/entities';
import type { UpgradeRecord } from '../shared/tracking/records';
import type { TableSource } from '../shared/tracking/store';

/** Upper bound on the entities of one entity-group transaction (the service's limit). */
const TRANSACTION_LIMIT = 100;

/**
 * Bulk-writes tracked upgrades as startTracking leaves them (upgrade row + schedule row due at each record's
 * `nextPollAt`) into the `Tracking` table, for benchmarks and tests: seeding thousands through the queue one by one
 * would take longer than what they measure. The rows are built by the app's own entity functions; they are created
 * as transactions grouped by partition, up to `parallel` in flight.
 */
export async function seedTrackingTable(
  tables: TableSource,
  records: readonly UpgradeRecord[],
  parallel = 1,
): Promise<void> {
  const entities = records.flatMap((record) => [
    upgradeToEntity(record),
    scheduleToEntity(record, Date.parse(record.nextPollAt ?? record.createdAt)),
  ]);
  await submitChunked(await tables.get('tracking'), entities, parallel);
}

/**
 * Submits entity creations as transactions: grouped by partition, at most 100 per transaction, up to `parallel`
 * transactions in flight (they touch different partitions or follow each other within one).
 */
async function submitChunked(client: TableClient, entities: Entity[], parallel: number): Promise<void> {
  const byPartition = new Map<string, Entity[]>();
  for (const entity of entities) {
    const group = byPartition.get(entity.partitionKey) ?? [];
    group.push(entity);
    byPartition.set(entity.partitionKey, group);
  }
  const batches: Entity[][] = [];
  for (const group of byPartition.values()) {
    for (let i = 0; i < group.length; i += TRANSACTION_LIMIT) batches.push(group.slice(i, i + TRANSACTION_LIMIT));
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, parallel) }, async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        await client.submitTransaction(batch.map((entity): TransactionAction => ['create', entity]));
      }
    }),
  );
}
