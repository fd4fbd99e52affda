import type { Telemetry } from '../telemetry';
import type { TrackingStore } from '../tracking/store';
import { messageText } from './message';

/** The queue the Functions host (and the callback job) moves a message to when it gives up on it. */
export function poisonQueueName(queue: string): string {
  return `${queue}-poison`;
}

export interface PoisonMessageMetadata {
  messageId?: string;
  insertionTime?: string;
}

export interface PoisonRecord {
  /** The poison queue the message came from. */
  queue: string;
  upgradeId?: string;
  eventId?: string;
}

function idField(value: unknown, name: 'upgradeId' | 'eventId'): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[name];
  // Short, printable ids only: whatever else a broken message holds stays in the table row, out of telemetry.
  return typeof field === 'string' && /^[\w.-]{1,100}$/.test(field) ? field.toLowerCase() : undefined;
}

/**
 * A message in a `-poison` queue is recorded durably (RejectedMessages, kind `poison`, partition = the poison
 * queue; the same text twice is one row) and reported as a `PoisonMessage` event, which the alert rules watch.
 * Throws only when the table write fails (the host then retries it).
 */
export async function recordPoisonMessage(
  poisonQueue: string,
  message: unknown,
  deps: { tracking: Pick<TrackingStore, 'recordRejectedMessage'>; telemetry: Telemetry; now?: () => number },
  metadata: PoisonMessageMetadata = {},
): Promise<PoisonRecord> {
  let value = message;
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    try {
      value = JSON.parse(messageText(value)) as unknown;
    } catch {
      // not JSON: recorded as text, no ids to report
    }
  }
  const record: PoisonRecord = { queue: poisonQueue };
  const upgradeId = idField(value, 'upgradeId');
  const eventId = idField(value, 'eventId');
  if (upgradeId) record.upgradeId = upgradeId;
  if (eventId) record.eventId = eventId;
  const origin = poisonQueue.replace(/-poison$/, '');
  await deps.tracking.recordRejectedMessage({
    queue: poisonQueue,
    kind: 'poison',
    reason:
      `gave up on this ${origin} message after repeated failures` +
      (metadata.insertionTime ? ` (first enqueued ${metadata.insertionTime})` : ''),
    message: messageText(message),
    receivedAt: new Date((deps.now ?? Date.now)()).toISOString(),
  });
  deps.telemetry.event('PoisonMessage', {
    queue: poisonQueue,
    ...(record.upgradeId ? { upgradeId: record.upgradeId } : {}),
    ...(record.eventId ? { eventId: record.eventId } : {}),
    ...(metadata.messageId ? { messageId: metadata.messageId } : {}),
  });
  return record;
}
