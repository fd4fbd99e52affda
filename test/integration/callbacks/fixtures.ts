import { randomUUID } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import { notificationEventId } from '../../../shared/callbacks/events';
import type { UpgradeLineItem } from '../../../shared/partner-center/types';
import {
  acceptUpgrade,
  trackUpgrade,
  type FinalStatus,
  type TableSource,
  type TrackingStore,
} from '../../../shared/tracking';
import { upgradeChangesToEntity } from '../../../shared/tracking/entities';

/** The callback job's inputs as the tracking leaves them: a tracked upgrade, final in its row, and its notification. */

export const LINE_ITEMS: UpgradeLineItem[] = [
  {
    sourceProduct: { id: 'MS-AZR-0145P', name: 'Microsoft Azure' },
    targetProduct: { id: 'DZH318Z0BPS6', name: 'Azure plan' },
    status: 'Completed',
    upgradedDate: '2026-11-20T10:00:00Z',
  },
];

/** The tracking's tables as the fixtures need them: the store, and the tables behind it. */
export interface TrackingFixture {
  tracking: TrackingStore;
  tables: TableSource;
}

/**
 * The upgrade reaches a final status in its row, with `LINE_ITEMS` (the fields a poll run's commit merges into the
 * upgrade row; the callback job reads only that row).
 */
export async function finishUpgrade(
  { tracking, tables }: TrackingFixture,
  upgradeId: string,
  status: FinalStatus,
  completedAt = new Date().toISOString(),
): Promise<void> {
  const found = await tracking.readUpgrade(upgradeId);
  if (!found) throw new Error(`upgrade ${upgradeId} is not tracked`);
  const changes = {
    status,
    rawStatus: status,
    statusRank: 3,
    completedAt,
    updatedAt: completedAt,
    lineItems: LINE_ITEMS,
    lineItemCount: LINE_ITEMS.length,
  };
  await (
    await tables.get('tracking')
  ).updateEntity(upgradeChangesToEntity(upgradeId, changes), 'Merge', {
    etag: found.etag,
  });
}

/** A new tracked upgrade, `Completed` in its row unless `final: false`, and the notification the tracking sends. */
export async function notifiedUpgrade(fixture: TrackingFixture, options: { final?: boolean } = {}) {
  const upgradeId = randomUUID();
  const customerId = randomUUID();
  const message = { upgradeId, customerId, productFamily: 'Azure' };
  await acceptUpgrade({ store: fixture.tracking, send: () => Promise.resolve() }, message);
  await trackUpgrade(message, { store: fixture.tracking, firstPollDelayMs: 0 });
  const completedAt = new Date().toISOString();
  if (options.final !== false) await finishUpgrade(fixture, upgradeId, 'Completed', completedAt);
  const notification = {
    eventId: notificationEventId(upgradeId, 'Completed'),
    event: 'upgrade.completed',
    upgradeId,
    customerId,
    status: 'Completed',
    completedAt,
  };
  return { upgradeId, customerId, completedAt, message: notification };
}

export interface SentMessage {
  payload: Record<string, unknown>;
  visibilityTimeout: number | undefined;
}

/** A queue whose sends are also kept (payload and delay), so a delayed copy is read without waiting for it. */
export function observedQueue(queue: QueueClient): { queue: QueueClient; sent: SentMessage[] } {
  const sent: SentMessage[] = [];
  const observed = new Proxy(queue, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'sendMessage' || typeof value !== 'function') return value;
      return (text: string, options?: { visibilityTimeout?: number }) => {
        const payload = JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as Record<string, unknown>;
        sent.push({ payload, visibilityTimeout: options?.visibilityTimeout });
        return (value as (...a: unknown[]) => unknown).call(target, text, options);
      };
    },
  });
  return { queue: observed, sent };
}
