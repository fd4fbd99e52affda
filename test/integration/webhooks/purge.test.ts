import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { Timer } from '@azure/functions';
import { startStack, type Stack } from '../../../dev/stack';
import { pollUpgrades } from '../../../functions/pollUpgrades';
import type { RowKeys } from '../../../shared/storage/conditional-update';
import type { Tables } from '../../../shared/storage/tables';
import { purgeExpiredWebhookIds } from '../../../shared/webhooks/purge';
import {
  beginReservation,
  completeReservation,
  expiryKeys,
  reservationKeys,
  RESERVATION_RETENTION_MS,
  webhookFingerprint,
} from '../../../shared/webhooks/reservations';
import { invocationContext } from '../../helpers/functions';
import { testTables } from '../tracking/helpers';

const HOUR = 3_600_000;
const connectionString = process.env.AzureWebJobsStorage!;

/** Every row of the table, as `PartitionKey/RowKey`. */
async function rowsOf(table: TableClient): Promise<string[]> {
  const keys: string[] = [];
  for await (const row of table.listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) {
    keys.push(`${row.partitionKey}/${row.rowKey}`);
  }
  return keys.sort();
}

const key = (keys: RowKeys) => `${keys.partitionKey}/${keys.rowKey}`;

/**
 * The WebhookIds table stays bounded: reservations past their 72 h are purged by a bounded query of expiry rows,
 * live ones stay and still answer repeats. Real Azurite.
 */
describe('purging expired webhook-ids', () => {
  let tables: Tables;
  let table: TableClient;

  beforeEach(async () => {
    // A fresh table per test: what is left in it is exactly what the purge left.
    tables = testTables('purge');
    table = await tables.get('webhookIds');
  });

  /** A completed reservation of `id` made at `at` (epoch ms); its keys and its expiry row's. */
  async function reserveAt(id: string, at: number): Promise<{ reservation: string; expiry: string }> {
    const begun = await beginReservation(tables, {
      id,
      fingerprint: webhookFingerprint('upgrades', id),
      now: () => at,
    });
    if (begun.kind !== 'proceed') throw new Error(`${id} was not new`);
    await completeReservation(tables, begun.handle, { status: 202, jsonBody: { id } }, () => at);
    const keys = reservationKeys(id);
    return { reservation: key(keys), expiry: key(expiryKeys(keys, at + RESERVATION_RETENTION_MS)) };
  }

  it('removes expired reservations and their expiry rows; live ones stay and still answer', async () => {
    // Half past an hour, so that a reservation that expired a second ago is still in the current hour.
    const now = Math.floor(Date.now() / HOUR) * HOUR + HOUR / 2;
    const expired = await Promise.all(['old-1', 'old-2', 'old-3'].map((id, i) => reserveAt(id, now - 73 * HOUR - i)));
    const live = await Promise.all(['new-1', 'new-2'].map((id) => reserveAt(id, now - HOUR)));
    // Expired, but its hour is not over: the purge of the next hour takes it (until then it counts as absent).
    const justExpired = await reserveAt('edge', now - RESERVATION_RETENTION_MS - 1000);
    expect(await rowsOf(table)).toHaveLength(12);

    expect(await purgeExpiredWebhookIds(tables, { now: () => now })).toEqual({ purged: 3, expiryRows: 3 });
    const after = await rowsOf(table);
    for (const row of expired) {
      expect(after).not.toContain(row.reservation);
      expect(after).not.toContain(row.expiry);
    }
    for (const row of [...live, justExpired]) {
      expect(after).toEqual(expect.arrayContaining([row.reservation, row.expiry]));
    }
    expect(after).toHaveLength(6);
    const repeat = await beginReservation(tables, {
      id: 'new-1',
      fingerprint: webhookFingerprint('upgrades', 'new-1'),
      now: () => now,
    });
    expect(repeat).toMatchObject({ kind: 'respond', response: { status: 202, jsonBody: { id: 'new-1' } } });

    expect(await purgeExpiredWebhookIds(tables, { now: () => now + HOUR })).toEqual({ purged: 1, expiryRows: 1 });
    expect(await rowsOf(table)).toHaveLength(4);
  });

  it('keeps an id taken over after it expired (a new expiry row), dropping only the old expiry row', async () => {
    const now = Date.now();
    const first = await reserveAt('reused', now - 80 * HOUR);
    const again = await reserveAt('reused', now - 2 * HOUR); // expired, so the row counted as absent and was taken
    expect(again.reservation).toBe(first.reservation);
    expect(await purgeExpiredWebhookIds(tables, { now: () => now })).toEqual({ purged: 0, expiryRows: 1 });
    expect(await rowsOf(table)).toEqual([again.expiry, again.reservation].sort());
  });

  it('reads at most `limit` expiry rows per run; the next run takes the rest', async () => {
    const now = Date.now();
    await Promise.all(Array.from({ length: 5 }, (_, i) => reserveAt(`old-${i}`, now - 75 * HOUR)));
    expect(await purgeExpiredWebhookIds(tables, { now: () => now, limit: 2 })).toEqual({ purged: 2, expiryRows: 2 });
    expect(await purgeExpiredWebhookIds(tables, { now: () => now, limit: 2 })).toEqual({ purged: 2, expiryRows: 2 });
    expect(await purgeExpiredWebhookIds(tables, { now: () => now, limit: 2 })).toEqual({ purged: 1, expiryRows: 1 });
    expect(await rowsOf(table)).toEqual([]);
  });
});

describe('the timer run purges expired webhook-ids', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ storage: connectionString, tablePrefix: `purgerun${randomUUID().slice(0, 6)}` });
  });
  afterAll(async () => stack?.stop());

  it('pollUpgrades removes a reservation past its 72 h and keeps a live one', async () => {
    const { tables } = stack.services;
    const reserve = async (id: string, at: number) => {
      const begun = await beginReservation(tables, { id, fingerprint: 'f', now: () => at });
      if (begun.kind !== 'proceed') throw new Error(`${id} was not new`);
    };
    await reserve('expired', Date.now() - 74 * HOUR);
    const liveAt = Date.now();
    await reserve('live', liveAt);
    const context = invocationContext({ functionName: 'pollUpgrades' });
    await pollUpgrades({ isPastDue: false } as Timer, context);
    const table = await tables.get('webhookIds');
    expect(await rowsOf(table)).toEqual(
      [
        key(reservationKeys('live')),
        key(expiryKeys(reservationKeys('live'), liveAt + RESERVATION_RETENTION_MS)),
      ].sort(),
    );
    expect(context.logs.map((l) => l.message)).toContain(
      'webhook ids: 1 expired reservation(s) purged (1 expiry rows)',
    );
  });
});
