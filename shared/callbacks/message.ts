import { decodeJsonObjectMessage, guidFieldsProblem } from '../queues/message';
import type { UpgradeEvent, UpgradeNotification } from '../tracking/records';
import { FINAL_STATUSES, type FinalStatus } from '../tracking/state';
import { eventFor, notificationEventId } from './events';

/**
 * The `upgrade-notifications` message as the callback job reads it: the tracking poller's `UpgradeNotification`,
 * plus `attempt` (1 when absent) on the copies the job re-enqueues for a retry. Nothing in it is trusted beyond its
 * ids: what is sent (event, status, line items, completion time) comes from the upgrade row at delivery time.
 */
export interface CallbackMessage extends UpgradeNotification {
  attempt: number;
}

export type ParsedCallbackMessage = { ok: true; message: CallbackMessage } | { ok: false; reason: string };

const EVENTS: readonly UpgradeEvent[] = ['upgrade.completed', 'upgrade.failed', 'upgrade.stale'];
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** Far above any sensible CALLBACK_MAX_ATTEMPTS: a bigger number is a corrupt message, not a retry. */
const MAX_ATTEMPT = 1000;

/**
 * Validates a message of unknown shape (object from the host, JSON text, or a Buffer of JSON text). A notification
 * the tracking sent is consistent in itself: its event is the event of its status, and its event id the id of that
 * status for that upgrade. A message that is not is refused here, before any row is read or any retry is scheduled.
 */
export function parseCallbackMessage(input: unknown): ParsedCallbackMessage {
  const decoded = decodeJsonObjectMessage(input);
  if (!decoded.ok) return decoded;
  const { fields } = decoded;
  const idProblem = guidFieldsProblem(fields, ['eventId', 'upgradeId', 'customerId']);
  if (idProblem) return { ok: false, reason: idProblem };
  const event = fields.event;
  if (typeof event !== 'string' || !EVENTS.includes(event as UpgradeEvent)) {
    return { ok: false, reason: `event must be one of ${EVENTS.join(', ')}` };
  }
  const status = fields.status;
  if (typeof status !== 'string' || !(FINAL_STATUSES as readonly string[]).includes(status)) {
    return { ok: false, reason: `status must be a final status (${FINAL_STATUSES.join(', ')})` };
  }
  const upgradeId = (fields.upgradeId as string).toLowerCase();
  const final = status as FinalStatus;
  if (event !== eventFor(final)) return { ok: false, reason: `event must be ${eventFor(final)} for status ${status}` };
  const eventId = (fields.eventId as string).toLowerCase();
  if (eventId !== notificationEventId(upgradeId, final)) {
    return { ok: false, reason: `eventId is not the id of the ${status} event of upgrade ${upgradeId}` };
  }
  const completedAt = fields.completedAt;
  if (typeof completedAt !== 'string' || !ISO_TIME.test(completedAt) || Number.isNaN(Date.parse(completedAt))) {
    return { ok: false, reason: 'completedAt must be an ISO-8601 time' };
  }
  const attempt = fields.attempt ?? 1;
  if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1 || attempt > MAX_ATTEMPT) {
    return { ok: false, reason: `attempt must be an integer from 1 to ${MAX_ATTEMPT}` };
  }
  return {
    ok: true,
    message: {
      eventId,
      event,
      upgradeId,
      customerId: (fields.customerId as string).toLowerCase(),
      status,
      completedAt,
      attempt,
    },
  };
}

/** Longest wait between two attempts: well inside the queue's 7-day message life. */
export const MAX_RETRY_DELAY_SECONDS = 3600;

/**
 * Seconds before attempt `failedAttempt + 1`: base·2^(failedAttempt−1), so the first retry waits the base and each
 * later one twice the previous, capped at an hour. Whole seconds: the queue's visibility timeout has no finer grain.
 */
export function retryDelaySeconds(failedAttempt: number, baseMs: number): number {
  const seconds = (baseMs / 1000) * 2 ** Math.max(0, failedAttempt - 1);
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.ceil(seconds));
}
