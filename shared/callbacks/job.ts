import { randomUUID } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import type { AppConfig } from '../config';
import { messageText } from '../queues/message';
import { sendQueueMessage } from '../queues/producer';
import { SecretUnavailableError } from '../secrets/errors';
import type { SecretStore } from '../secrets/types';
import { newLease } from '../storage/lease';
import { QUEUES } from '../storage/names';
import type { Telemetry } from '../telemetry';
import type { UpgradeRecord } from '../tracking/records';
import { isFinal, type FinalStatus } from '../tracking/state';
import type { TrackingStore } from '../tracking/store';
import { readSigningSecrets } from '../webhooks/signing';
import { deliverCallback, type CallbackPayload, type DeliveryResult } from './delivery';
import { notificationFor } from './events';
import { parseCallbackMessage, retryDelaySeconds, type CallbackMessage } from './message';
import {
  claimCallbackSend,
  isFinalOutcome,
  knownRecord,
  readCallbackRow,
  recordCallbackOutcome,
  type CallbackTables,
  type RecordedOutcome,
} from './store';

/**
 * The billing-callback job behind the `upgrade-notifications` queue trigger: one signed POST per message.
 *
 * The message is trusted for its ids only. The job reads the event's `Callbacks` row and the upgrade's row once
 * each (at the same time), and sends what the upgrade row says: event, status, completion time, line items and the
 * event id, recomputed from the row's final status. A message whose customer or event id disagrees with the row is
 * rejected and recorded, never sent. A row that is not final yet (a notification may be enqueued just before its
 * final status is committed) sends nothing: the job checks again later.
 *
 * Retries are the job's own, not the host's: a transient failure (408, 429, 5xx, network) — or a row not final yet —
 * re-enqueues a copy with `attempt + 1`, invisible for a growing delay, and completes the original; the host's five
 * quick dequeues would give a receiver that is down for a minute no chance. After `CALLBACK_MAX_ATTEMPTS` the message
 * moves to `upgrade-notifications-poison` (a failed delivery is first recorded as poisoned), where the poison trigger
 * records and alerts it. Errors of our own dependencies (Table Storage, the secret store) throw, so the host retries
 * them and finally poisons the message.
 */
export interface CallbackJobDeps {
  tables: CallbackTables;
  tracking: Pick<TrackingStore, 'readUpgrade' | 'recordRejectedMessage'>;
  secrets: SecretStore;
  telemetry: Telemetry;
  config: Pick<AppConfig, 'billingCallbackUrl' | 'callbacks'>;
  /** `upgrade-notifications`: retries are re-enqueued here. */
  queue: QueueClient;
  /** `upgrade-notifications-poison`: where a message goes after the last attempt. */
  poisonQueue: QueueClient;
  fetchImpl?: typeof fetch;
  now?: () => number;
}

type Ids = { eventId: string; upgradeId: string };

export type CallbackJobResult =
  | { outcome: 'invalid'; reason: string }
  | { outcome: 'skipped'; reason: string }
  | ({ outcome: 'already-final'; recorded: RecordedOutcome } & Ids)
  | ({ outcome: 'busy'; delaySeconds: number } & Ids)
  | ({ outcome: 'not-final'; attempt: number; delaySeconds: number; upgradeStatus: string } & Ids)
  | ({ outcome: 'delivered'; attempt: number; httpStatus: number } & Ids)
  | ({ outcome: 'rejected'; attempt: number; error: string } & Ids)
  | ({ outcome: 'retry-scheduled'; attempt: number; delaySeconds: number; error: string } & Ids)
  | ({ outcome: 'poisoned'; attempt: number; error: string } & Ids);

/** Margin over the POST timeout for the send claim: covers the record write that follows the POST. */
const CLAIM_MARGIN_MS = 30_000;

async function rejectMessage(input: unknown, reason: string, deps: CallbackJobDeps): Promise<CallbackJobResult> {
  await deps.tracking.recordRejectedMessage({
    queue: QUEUES.upgradeNotifications,
    kind: 'invalid',
    reason,
    message: messageText(input),
    receivedAt: new Date((deps.now ?? Date.now)()).toISOString(),
  });
  deps.telemetry.event('CallbackRejected', { reason: 'invalid-message' });
  return { outcome: 'invalid', reason };
}

/** Copies only the message's own fields: a retry never carries anything the host could read as trigger metadata. */
function retryCopy(message: CallbackMessage): CallbackMessage {
  const { eventId, event, upgradeId, customerId, status, completedAt, attempt } = message;
  return { eventId, event, upgradeId, customerId, status, completedAt, attempt: attempt + 1 };
}

/** What is sent, from the upgrade row alone (the message contributes nothing but the ids it was checked on). */
function payloadFor(record: UpgradeRecord & { status: FinalStatus }): CallbackPayload {
  const notification = notificationFor(record);
  return {
    eventId: notification.eventId,
    event: notification.event,
    upgradeId: notification.upgradeId,
    customerId: notification.customerId,
    status: notification.status,
    lineItems: record.lineItems,
    completedAt: notification.completedAt,
    ...(record.waveId ? { waveId: record.waveId } : {}),
  };
}

/**
 * The signing secrets, or why there are none. A missing or malformed secret is a deployment gap (Key Vault not filled
 * yet, or filled with something that is not a `whsec_` secret) and an unreadable one a Key Vault outage at a cold
 * cache: none is the receiver's verdict, so all take the delayed-retry path (a few attempts over growing delays, then
 * the poison record and alert) instead of five quick host retries.
 */
async function signingSecrets(deps: CallbackJobDeps): Promise<{ secrets: string[] } | { problem: string }> {
  try {
    const read = await readSigningSecrets(deps.secrets, 'CALLBACK_SIGNING_SECRET');
    if (read.ok) return { secrets: read.secrets };
    const never = read.cause === 'not-set' ? 'callbacks are never sent unsigned' : 'callbacks are never sent with it';
    return { problem: `${read.problem}: ${never}` };
  } catch (error) {
    if (!(error instanceof SecretUnavailableError)) throw error;
    return { problem: 'CALLBACK_SIGNING_SECRET could not be read from Key Vault; retried later' };
  }
}

export async function processCallbackMessage(input: unknown, deps: CallbackJobDeps): Promise<CallbackJobResult> {
  const now = deps.now ?? Date.now;
  const parsed = parseCallbackMessage(input);
  if (!parsed.ok) return rejectMessage(input, parsed.reason, deps);
  const message = parsed.message;
  const url = deps.config.billingCallbackUrl;
  if (!url) return { outcome: 'skipped', reason: 'BILLING_CALLBACK_URL is not set' };

  const ids: Ids = { eventId: message.eventId, upgradeId: message.upgradeId };
  const { attempt } = message;
  const [known, upgrade] = await Promise.all([
    readCallbackRow(deps.tables, message.upgradeId, message.eventId),
    deps.tracking.readUpgrade(message.upgradeId),
  ]);
  // Who the message names is checked first, so a forgery is recorded even when it copies a delivered event's ids.
  const record = upgrade?.record;
  if (!record) return rejectMessage(input, `upgrade ${message.upgradeId} is not tracked`, deps);
  if (record.customerId !== message.customerId) {
    return rejectMessage(input, `upgrade ${message.upgradeId} belongs to another customer`, deps);
  }
  // A duplicate message (at-least-once queue, or a poll run that re-sent it) never posts a final event again.
  const recorded = knownRecord(known);
  if (recorded && isFinalOutcome(recorded.outcome)) {
    return { outcome: 'already-final', ...ids, recorded: recorded.outcome };
  }
  if (!isFinal(record.status)) {
    const error = `upgrade ${message.upgradeId} is not final yet (${record.status})`;
    if (attempt >= deps.config.callbacks.maxAttempts) return giveUp(message, error, deps);
    const delaySeconds = retryDelaySeconds(attempt, deps.config.callbacks.retryBaseMs);
    await sendQueueMessage(deps.queue, retryCopy(message), { visibilityTimeoutSeconds: delaySeconds });
    return { outcome: 'not-final', ...ids, attempt, delaySeconds, upgradeStatus: record.status };
  }
  const payload = payloadFor({ ...record, status: record.status });
  if (payload.eventId !== message.eventId) {
    return rejectMessage(
      input,
      `event ${message.eventId} is not the final event of upgrade ${message.upgradeId}`,
      deps,
    );
  }

  const signing = await signingSecrets(deps);
  const at = now();
  const claim = await claimCallbackSend(
    deps.tables,
    {
      ...ids,
      event: payload.event,
      attempt,
      lease: newLease(randomUUID(), at, deps.config.callbacks.timeoutMs + CLAIM_MARGIN_MS),
      now: at,
    },
    known,
  );
  if (claim.kind === 'final') return { outcome: 'already-final', ...ids, recorded: claim.record.outcome };
  if (claim.kind === 'busy') {
    // Another copy is being sent right now. Completing this one could lose the event should that sender crash, so a
    // copy comes back after the claim ran out: it then finds the outcome, or a dead claim it may take over.
    const delaySeconds = Math.ceil(claim.leaseRemainingMs / 1000) + 1;
    await sendQueueMessage(deps.queue, message, { visibilityTimeoutSeconds: delaySeconds });
    return { outcome: 'busy', ...ids, delaySeconds };
  }
  const result: DeliveryResult =
    'problem' in signing
      ? { outcome: 'retry', error: signing.problem, durationMs: 0 }
      : await deliverCallback({
          url,
          payload,
          secrets: signing.secrets,
          timeoutMs: deps.config.callbacks.timeoutMs,
          fetchImpl: deps.fetchImpl,
        });
  const properties = { ...ids, event: payload.event, upgradeStatus: payload.status, attempt: String(attempt) };
  const measurements = { attempt, durationMs: result.durationMs };
  const recordOutcome = (outcome: 'delivered' | 'rejected' | 'retry' | 'poisoned') =>
    recordCallbackOutcome(
      deps.tables,
      {
        ...ids,
        event: payload.event,
        outcome,
        attempt,
        ...(result.status !== undefined ? { status: result.status } : {}),
        ...(result.error !== undefined ? { error: result.error } : {}),
      },
      { now, known: claim.row },
    );
  const httpStatus: Record<string, string> = result.status !== undefined ? { httpStatus: String(result.status) } : {};

  if (result.outcome === 'delivered') {
    await recordOutcome('delivered');
    deps.telemetry.event('CallbackDelivered', { ...properties, ...httpStatus }, measurements);
    return { outcome: 'delivered', ...ids, attempt, httpStatus: result.status ?? 0 };
  }
  const error = result.error ?? 'not delivered';
  if (result.outcome === 'rejected') {
    await recordOutcome('rejected');
    deps.telemetry.event('CallbackRejected', { ...properties, ...httpStatus, reason: error }, measurements);
    return { outcome: 'rejected', ...ids, attempt, error };
  }
  if (attempt >= deps.config.callbacks.maxAttempts) {
    // Recorded first: the Callbacks row is the durable truth; should the move below be lost in a crash, the host
    // redelivers this message, which then finds the poisoned row and completes.
    await recordOutcome('poisoned');
    return giveUp(message, error, deps, { ...properties, ...httpStatus }, measurements);
  }
  await recordOutcome('retry');
  const delaySeconds = retryDelaySeconds(attempt, deps.config.callbacks.retryBaseMs);
  await sendQueueMessage(deps.queue, retryCopy(message), { visibilityTimeoutSeconds: delaySeconds });
  return { outcome: 'retry-scheduled', ...ids, attempt, delaySeconds, error };
}

/** The last attempt failed: `CallbackFailed`, and the message to the poison queue (recorded and alerted there). */
async function giveUp(
  message: CallbackMessage,
  error: string,
  deps: CallbackJobDeps,
  properties: Record<string, string> = {
    eventId: message.eventId,
    upgradeId: message.upgradeId,
    attempt: String(message.attempt),
  },
  measurements: Record<string, number> = { attempt: message.attempt },
): Promise<CallbackJobResult> {
  deps.telemetry.event('CallbackFailed', { ...properties, reason: error }, measurements);
  await sendQueueMessage(deps.poisonQueue, message);
  return {
    outcome: 'poisoned',
    eventId: message.eventId,
    upgradeId: message.upgradeId,
    attempt: message.attempt,
    error,
  };
}
