import type { QueueClient } from '@azure/storage-queue';
import { AZURE_FAMILY } from '../http/validation';
import { decodeJsonObjectMessage, guidFieldsProblem, messageText } from '../queues/message';
import { sendQueueMessage } from '../queues/producer';
import { QUEUES } from '../storage/names';
import { scheduleRowKey } from './entities';
import { digestKey } from './keys';
import type { TrackingMessage, UpgradeRecord } from './records';
import { firstPollAt } from './schedule';
import { INITIAL_STATE } from './state';
import type { TrackingStore } from './store';

export type { TrackingMessage } from './records';

export type ParsedTrackingMessage = { ok: true; message: TrackingMessage } | { ok: false; reason: string };

const MAX_LABEL = 200;

/**
 * Validates a queue message. Accepts the object the Functions host hands over for JSON messages, JSON text, or a
 * Buffer of JSON text. GUIDs are normalised to lower case so one upgrade has one key whatever the sender's casing.
 */
export function parseTrackingMessage(input: unknown): ParsedTrackingMessage {
  const decoded = decodeJsonObjectMessage(input);
  if (!decoded.ok) return decoded;
  const { fields } = decoded;
  const idProblem = guidFieldsProblem(fields, ['upgradeId', 'customerId']);
  if (idProblem) return { ok: false, reason: idProblem };
  const family = fields.productFamily;
  if (family === undefined || family === null || family === '')
    return { ok: false, reason: 'productFamily is missing' };
  // Azure is the only family Partner Center upgrades: another one would be polled into Stale, never answered.
  if (typeof family !== 'string' || family.toLowerCase() !== AZURE_FAMILY.toLowerCase()) {
    return { ok: false, reason: 'productFamily must be "Azure"' };
  }
  for (const name of ['correlationId', 'source'] as const) {
    const field = fields[name];
    if (field !== undefined && field !== null && (typeof field !== 'string' || field.length > MAX_LABEL)) {
      return { ok: false, reason: `${name} must be a string of at most ${MAX_LABEL} characters` };
    }
  }
  const optional = (name: 'correlationId' | 'source') =>
    typeof fields[name] === 'string' && fields[name] !== '' ? fields[name] : undefined;
  return {
    ok: true,
    message: {
      upgradeId: (fields.upgradeId as string).toLowerCase(),
      customerId: (fields.customerId as string).toLowerCase(),
      productFamily: AZURE_FAMILY,
      correlationId: optional('correlationId'),
      source: optional('source'),
    },
  };
}

export interface StartTrackingDeps {
  store: TrackingStore;
  /** POLL_FIRST_DELAY_SECONDS: how long after tracking starts the first poll is due. */
  firstPollDelayMs: number;
  now?: () => number;
}

export type StartTrackingResult =
  | { outcome: 'tracked'; upgradeId: string; nextPollAt: string }
  | { outcome: 'duplicate'; upgradeId: string }
  | { outcome: 'conflict'; upgradeId: string; reason: string }
  | { outcome: 'rejected'; reason: string };

/**
 * The queue trigger's whole job. An invalid message is recorded in RejectedMessages and the call returns (the
 * message completes, no retries); a valid one is tracked once. Storage errors throw, so the queue retries.
 */
export async function startTracking(input: unknown, deps: StartTrackingDeps): Promise<StartTrackingResult> {
  const now = deps.now ?? Date.now;
  const parsed = parseTrackingMessage(input);
  if (!parsed.ok) {
    await deps.store.recordRejectedMessage({
      queue: QUEUES.upgradeTracking,
      kind: 'invalid',
      reason: parsed.reason,
      message: messageText(input),
      receivedAt: new Date(now()).toISOString(),
    });
    return { outcome: 'rejected', reason: parsed.reason };
  }
  return trackUpgrade(parsed.message, deps);
}

type Decided =
  { outcome: 'tracked'; record: UpgradeRecord; dueAt: number } | { outcome: 'known'; record: UpgradeRecord };

/**
 * The tracking's first real work for a validated message: puts the upgrade into the poll schedule, due
 * `firstPollDelayMs` from now. One transaction, so a crash leaves all of it or none of it:
 * - an accepted upgrade (its row written by `acceptUpgrade`, not scheduled yet): its row marked started (conditional
 *   on the row read), its first schedule row, and its accepted row deleted;
 * - an upgrade with no row (a message from a sender that does not record it first): its row, created started, and
 *   its first schedule row;
 * - an upgrade already scheduled: nothing (a duplicate); one recorded for another customer: a recorded conflict.
 * Then the customer index row (insert-only, keyed by the stored createdAt, so a replay writes the same row).
 */
export async function trackUpgrade(message: TrackingMessage, deps: StartTrackingDeps): Promise<StartTrackingResult> {
  const { store } = deps;
  const now = (deps.now ?? Date.now)();
  const dueAt = firstPollAt(now, { firstDelayMs: deps.firstPollDelayMs });
  const decided = await store.scheduleFirstPoll<Decided>(message.upgradeId, (current) => {
    if (!current) {
      // No row: nothing vouches for the upgrade but the message itself. Any check of the message (against Partner
      // Center, say) belongs here, before the upgrade is recorded and scheduled.
      const start = startedRecord(newUpgradeRecord(message, now), now, dueAt);
      return { result: { outcome: 'tracked', record: start, dueAt }, start, dueAt };
    }
    if (current.trackingStartedAt || current.customerId !== message.customerId) {
      return { result: { outcome: 'known', record: current } };
    }
    const start = startedRecord(current, now, dueAt);
    return { result: { outcome: 'tracked', record: start, dueAt }, start, dueAt };
  });
  const { record } = decided;
  if (record.customerId !== message.customerId) {
    const reason = `upgrade ${record.upgradeId} is tracked for customer ${record.customerId}, not ${message.customerId}`;
    await store.recordRejectedMessage({
      queue: QUEUES.upgradeTracking,
      kind: 'conflict',
      reason,
      message: JSON.stringify(message),
      receivedAt: new Date(now).toISOString(),
    });
    return { outcome: 'conflict', upgradeId: record.upgradeId, reason };
  }
  // Also for a duplicate: the delivery that started the tracking may have crashed before this row.
  await store.ensureCustomerIndex(record);
  if (decided.outcome === 'known') return { outcome: 'duplicate', upgradeId: record.upgradeId };
  return { outcome: 'tracked', upgradeId: record.upgradeId, nextPollAt: new Date(decided.dueAt).toISOString() };
}

/** A new upgrade as accepted: Pending, nothing observed, not in the poll schedule yet. */
export function newUpgradeRecord(message: TrackingMessage, at: number): UpgradeRecord {
  const createdAt = new Date(at).toISOString();
  return {
    upgradeId: message.upgradeId,
    customerId: message.customerId,
    productFamily: message.productFamily,
    correlationId: message.correlationId,
    source: message.source,
    status: INITIAL_STATE.status,
    rawStatus: INITIAL_STATE.rawStatus,
    statusRank: INITIAL_STATE.rank,
    createdAt,
    updatedAt: createdAt,
    attempts: 0,
    pollCount: 0,
    unchangedPolls: 0,
    scheduleKey: '',
    lineItems: [],
    lineItemCount: 0,
    lineItemsTruncated: false,
    lineItemsDigest: digestKey('[]'),
    historySeq: 0,
  };
}

/** The same upgrade with its tracking started at `at`, first poll due at `dueAt`. */
export function startedRecord(record: UpgradeRecord, at: number, dueAt: number): UpgradeRecord {
  return {
    ...record,
    updatedAt: new Date(at).toISOString(),
    trackingStartedAt: new Date(at).toISOString(),
    nextPollAt: new Date(dueAt).toISOString(),
    scheduleKey: scheduleRowKey(dueAt, record.upgradeId),
  };
}

/** Sends one tracking message (production: `queueTracker(upgrade-tracking queue)`); throws when it could not. */
export type TrackingSender = (message: TrackingMessage) => Promise<void>;

/** The production sender: the `upgrade-tracking` queue through the one base64 producer. */
export function queueTracker(queue: QueueClient): TrackingSender {
  return async (message) => {
    await sendQueueMessage(queue, message);
  };
}
