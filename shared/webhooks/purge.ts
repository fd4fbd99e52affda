import { odata } from '@azure/data-tables';
import { conditionalUpdate, type RowKeys } from '../storage/conditional-update';
import { isNotFound, type Tables } from '../storage/tables';
import {
  expiredRange,
  isExpired,
  reservationOfExpiry,
  WEBHOOK_ID_PARTITIONS,
  type ReservationRow,
} from './reservations';

/** At most this many expiry rows per run: the table shrinks over a few runs rather than one long one. */
export const MAX_PURGED_PER_RUN = 1000;
/** Deletions in flight at once. */
const PURGE_CONCURRENCY = 8;

export interface PurgeSummary {
  /** Reservations removed (expired). */
  purged: number;
  /** Expiry rows read (each removed, whether its reservation was still there, expired or taken over since). */
  expiryRows: number;
}

/**
 * Housekeeping for the `WebhookIds` table, run by the timer: removes webhook-id reservations past their 72 h, reading
 * only the expiry rows of hours gone by (a RowKey range per shard) and never more than `limit` of them. A reservation
 * is deleted only when it has really expired (read, decided and deleted conditionally: a request that took the id
 * over since keeps it), then its expiry row goes. A run cut short leaves the rest for the next one.
 */
export async function purgeExpiredWebhookIds(
  tables: Tables,
  options: { now?: () => number; limit?: number } = {},
): Promise<PurgeSummary> {
  const now = (options.now ?? Date.now)();
  const limit = options.limit ?? MAX_PURGED_PER_RUN;
  const table = await tables.get('webhookIds');
  const { from, before } = expiredRange(now);
  const due: RowKeys[] = [];
  for (const partitionKey of WEBHOOK_ID_PARTITIONS) {
    if (due.length >= limit) break;
    const rows = table.listEntities({
      queryOptions: {
        filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${from} and RowKey lt ${before}`,
        select: ['PartitionKey', 'RowKey'],
      },
    });
    for await (const row of rows) {
      due.push({ partitionKey: row.partitionKey ?? partitionKey, rowKey: row.rowKey ?? '' });
      if (due.length >= limit) break;
    }
  }
  let purged = 0;
  const purge = async (expiry: RowKeys): Promise<void> => {
    const outcome = await conditionalUpdate<ReservationRow, boolean>(table, reservationOfExpiry(expiry), (current) =>
      current && isExpired(current, now) ? { result: true, delete: true } : { result: false },
    );
    if (outcome.result && outcome.changed) purged++;
    await table.deleteEntity(expiry.partitionKey, expiry.rowKey).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  };
  for (let i = 0; i < due.length; i += PURGE_CONCURRENCY) {
    await Promise.all(due.slice(i, i + PURGE_CONCURRENCY).map(purge));
  }
  return { purged, expiryRows: due.length };
}

/** The timer's purge step: it never fails the run (the next run tries again) and says what it did. */
export async function purgeWebhookIdsStep(
  tables: Tables,
  log: { log(message: string): void; warn(message: string): void },
): Promise<void> {
  try {
    const { purged, expiryRows } = await purgeExpiredWebhookIds(tables);
    if (expiryRows > 0) log.log(`webhook ids: ${purged} expired reservation(s) purged (${expiryRows} expiry rows)`);
  } catch (error) {
    log.warn(
      `webhook ids: purge failed, the next run tries again: ${error instanceof Error ? error.message : 'unknown error'}`,
    );
  }
}
