import type { QueueClient } from '@azure/storage-queue';
import type { AppConfig } from '../config';
import { sendQueueMessage } from '../queues/producer';
import { SecretUnavailableError } from '../secrets/errors';
import { getSecretList } from '../secrets/list';
import type { SecretStore } from '../secrets/types';
import type { Tables } from '../storage/tables';
import { QUEUES } from '../storage/names';
import type { Telemetry } from '../telemetry';
import type { TrackingStore } from '../tracking/store';
import {
  deliverCallback,
  claimCallbackSend,
  isFinalOutcome,
  readCallbackRecord,
  recordCallbackOutcome,
  type CallbackPayload,
  type DeliveryResult,
  type RecordedOutcome,
} from '../webhooks/callbacks';
import { messageText } from '../queues/message';
import { parseCallbackMessage, retryDelaySeconds, type CallbackMessage } from './callback-message';

/**
 * The billing-callback job behind the `upgrade-notifications` queue trigger: one signed POST per message.
 *
 * Retries are the job's own, not the host's: a transient failure (408, 429, 5xx, network) re-enqueues a copy with
 * `attempt + 1`, invisible for a growing delay, and completes the original; the host's five quick dequeues would
 * give a receiver that is down for a minute no chance. After `CALLBACK_MAX_ATTEMPTS` the message is recorded as
 * poisoned and moved to `upgrade-notifications-poison`, where the poison trigger records and alerts it. Errors of our
 * own dependencies (Table Storage, the secret store) throw, so the host retries them and finally poisons the message.
 */
export interface CallbackJobDeps {
  tables: Tables;
  tracking: TrackingStore;
  secrets: SecretStore;
  telemetry: Telemetry;
  config: Pick<AppConfig, 'billingCallbackUrl' | 'callbacks'>;
  /** `upgrade-notifications`: retries are re-enqueued here. */
  queue: QueueClient;
  /** `upgrade-notifications-poison`: where a message goes after the last attempt. */
  poisonQueue: QueueClient;
  fetchImpl?: typeof fetch;
  now?: () => Date;
}

export type CallbackJobResult =
  | { outcome: 'invalid'; reason: string }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'already-final'; eventId: string; upgradeId: string; recorded: RecordedOutcome }
  | { outcome: 'busy'; eventId: string; upgradeId: string; delaySeconds: number }
  | { outcome: 'delivered'; eventId: string; upgradeId: string; attempt: number; httpStatus: number }
  | { outcome: 'rejected'; eventId: string; upgradeId: string; attempt: number; error: string }
  | {
      outcome: 'retry-scheduled';
      eventId: string;
      upgradeId: string;
      attempt: number;
      delaySeconds: number;
      error: string;
    }
  | { outcome: 'poisoned'; eventId: string; upgradeId: string; attempt: number; error: string };

/** Margin over the POST timeout for the send claim: covers the record write that follows the POST. */
const CLAIM_MARGIN_MS = 30_000;

async function rejectMessage(input: unknown, reason: string, deps: CallbackJobDeps): Promise<CallbackJobResult> {
  await deps.tracking.recordRejectedMessage({
    queue: QUEUES.upgradeNotifications,
    kind: 'invalid',
    reason,
    message: messageText(input),
    receivedAt: (deps.now?.() ?? new Date()).toISOString(),
  });
  deps.telemetry.event('CallbackRejected', { reason: 'invalid-message' });
  return { outcome: 'invalid', reason };
}

/** Copies only the message's own fields: a retry never carries anything the host could read as trigger metadata. */
function retryCopy(message: CallbackMessage): CallbackMessage {
  const { eventId, event, upgradeId, customerId, status, completedAt, attempt } = message;
  return { eventId, event, upgradeId, customerId, status, completedAt, attempt: attempt + 1 };
}

export async function processCallbackMessage(input: unknown, deps: CallbackJobDeps): Promise<CallbackJobResult> {
  const parsed = parseCallbackMessage(input);
  if (!parsed.ok) return rejectMessage(input, parsed.reason, deps);
  const message = parsed.message;
  const url = deps.config.billingCallbackUrl;
  if (!url) return { outcome: 'skipped', reason: 'BILLING_CALLBACK_URL is not set' };

  const ids = { eventId: message.eventId, upgradeId: message.upgradeId };
  // A duplicate message (at-least-once queue, or a poll run that re-sent it) never posts a final event again.
  const existing = await readCallbackRecord(deps.tables, message.upgradeId, message.eventId);
  if (existing && isFinalOutcome(existing.outcome)) {
    return { outcome: 'already-final', ...ids, recorded: existing.outcome };
  }

  const upgrade = await deps.tracking.getUpgrade(message.upgradeId);
  if (!upgrade) return rejectMessage(input, `upgrade ${message.upgradeId} is not tracked`, deps);
  if (upgrade.customerId !== message.customerId) {
    return rejectMessage(input, `upgrade ${message.upgradeId} belongs to another customer`, deps);
  }
  const payload: CallbackPayload = {
    eventId: message.eventId,
    event: message.event,
    upgradeId: message.upgradeId,
    customerId: message.customerId,
    status: message.status,
    lineItems: upgrade.lineItems,
    completedAt: upgrade.completedAt ?? message.completedAt,
  };
  // A missing secret is a deployment gap (Key Vault not filled yet) and an unreadable one a Key Vault outage at a cold
  // cache: neither is the receiver's verdict, so both take the delayed-retry path (a few attempts over growing
  // delays, then the poison record and alert) instead of five quick host retries.
  let secrets: string[] = [];
  let secretProblem: string | undefined;
  try {
    secrets = await getSecretList(deps.secrets, 'CALLBACK_SIGNING_SECRET');
    if (secrets.length === 0) secretProblem = 'CALLBACK_SIGNING_SECRET is not set: callbacks are never sent unsigned';
  } catch (error) {
    if (!(error instanceof SecretUnavailableError)) throw error;
    secretProblem = 'CALLBACK_SIGNING_SECRET could not be read from Key Vault; retried later';
  }
  const claim = await claimCallbackSend(deps.tables, {
    ...ids,
    event: message.event,
    attempt: message.attempt,
    leaseMs: deps.config.callbacks.timeoutMs + CLAIM_MARGIN_MS,
    now: deps.now ? () => deps.now!().getTime() : undefined,
  });
  if (claim.kind === 'final') return { outcome: 'already-final', ...ids, recorded: claim.record.outcome };
  if (claim.kind === 'busy') {
    // Another copy is being sent right now. Completing this one could lose the event should that sender crash, so a
    // copy comes back after the claim ran out: it then finds the outcome, or a dead claim it may take over.
    const delaySeconds = Math.ceil(claim.leaseRemainingMs / 1000) + 1;
    await sendQueueMessage(deps.queue, message, { visibilityTimeoutSeconds: delaySeconds });
    return { outcome: 'busy', ...ids, delaySeconds };
  }
  const result: DeliveryResult =
    secretProblem !== undefined
      ? { outcome: 'retry', error: secretProblem, durationMs: 0 }
      : await deliverCallback({
          url,
          payload,
          secrets,
          timeoutMs: deps.config.callbacks.timeoutMs,
          fetchImpl: deps.fetchImpl,
        });
  const { attempt } = message;
  const properties = { ...ids, event: message.event, upgradeStatus: message.status, attempt: String(attempt) };
  const measurements = { attempt, durationMs: result.durationMs };
  const record = (outcome: RecordedOutcome) =>
    recordCallbackOutcome(deps.tables, {
      ...ids,
      event: message.event,
      outcome,
      attempt,
      ...(result.status !== undefined ? { status: result.status } : {}),
      ...(result.error !== undefined ? { error: result.error } : {}),
    });
  const httpStatus: Record<string, string> = result.status !== undefined ? { httpStatus: String(result.status) } : {};

  if (result.outcome === 'delivered') {
    await record('delivered');
    deps.telemetry.event('CallbackDelivered', { ...properties, ...httpStatus }, measurements);
    return { outcome: 'delivered', ...ids, attempt, httpStatus: result.status ?? 0 };
  }
  const error = result.error ?? 'not delivered';
  if (result.outcome === 'rejected') {
    await record('rejected');
    deps.telemetry.event('CallbackRejected', { ...properties, ...httpStatus, reason: error }, measurements);
    return { outcome: 'rejected', ...ids, attempt, error };
  }
  if (attempt >= deps.config.callbacks.maxAttempts) {
    // Recorded first: the Callbacks row is the durable truth; should the move below be lost in a crash, the host
    // redelivers this message, which then finds the poisoned row and completes.
    await record('poisoned');
    deps.telemetry.event('CallbackFailed', { ...properties, ...httpStatus, reason: error }, measurements);
    await sendQueueMessage(deps.poisonQueue, message);
    return { outcome: 'poisoned', ...ids, attempt, error };
  }
  await record('retry');
  const delaySeconds = retryDelaySeconds(attempt, deps.config.callbacks.retryBaseMs);
  await sendQueueMessage(deps.queue, retryCopy(message), { visibilityTimeoutSeconds: delaySeconds });
  return { outcome: 'retry-scheduled', ...ids, attempt, delaySeconds, error };
}
