import type { QueueClient } from '@azure/storage-queue';
import { guidFromHex } from '../ids';
import { sendQueueMessage } from '../queues/producer';
import { digestKey } from '../tracking/keys';
import type { UpgradeEvent, UpgradeNotification, UpgradeRecord } from '../tracking/records';
import type { FinalStatus } from '../tracking/state';

/**
 * What a final upgrade tells the billing system: the event name, its deterministic id, and the notification the
 * tracking puts on `upgrade-notifications` (ids only; the callback job builds the payload from the upgrade row).
 */

/** Sends one final-status notification; throws when it could not (the poll run then retries it next run). */
export type Notifier = (notification: UpgradeNotification) => Promise<void>;

/** The production notifier: the `upgrade-notifications` queue through the one base64 producer. */
export function queueNotifier(queue: QueueClient): Notifier {
  return async (notification) => {
    await sendQueueMessage(queue, notification);
  };
}

export function eventFor(status: FinalStatus): UpgradeEvent {
  if (status === 'Completed') return 'upgrade.completed';
  if (status === 'Stale') return 'upgrade.stale';
  return 'upgrade.failed'; // Failed and Cancelled: the message's `status` tells them apart
}

/** GUID-shaped digest of upgrade id + final status: the same event always has the same id (receivers dedupe). */
export function notificationEventId(upgradeId: string, status: FinalStatus): string {
  return guidFromHex(digestKey(`${upgradeId.toLowerCase()}|${status}`, 32));
}

export function notificationFor(
  record: Pick<UpgradeRecord, 'upgradeId' | 'customerId' | 'completedAt' | 'updatedAt'> & { status: FinalStatus },
): UpgradeNotification {
  return {
    eventId: notificationEventId(record.upgradeId, record.status),
    event: eventFor(record.status),
    upgradeId: record.upgradeId,
    customerId: record.customerId,
    status: record.status,
    completedAt: record.completedAt ?? record.updatedAt,
  };
}
