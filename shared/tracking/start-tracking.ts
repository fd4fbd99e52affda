import { AZURE_FAMILY } from '../http/validation';
import { decodeJsonObjectMessage, guidFieldsProblem, messageText } from '../queues/message';
import { QUEUES } from '../storage/names';
import { firstPollAt } from './schedule';
import { INITIAL_STATE, isFinal } from './state';
import { scheduleRowKey, type TrackingStore } from './store';
import { digestKey, parseTimeKey } from './keys';
import type { ScheduleRow, UpgradeRecord } from './records';

/** The `upgrade-tracking` queue message: ids only; durable state lives in the tables. */
export interface TrackingMessage {
  upgradeId: string;
  customerId: string;
  productFamily: string;
  correlationId?: string;
  source?: string;
}

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
  now?: () => number;
  /** Delay of the first poll; 0 (the default) = due now. */
  firstPollDelayMs?: number;
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

/**
 * Starts tracking a validated upgrade (the HTTP start path may call it directly before it enqueues, which closes
 * the write-then-enqueue gap). Order of writes, each idempotent, so a crash between any two is finished by a
 * replay of the message or by the poller:
 *   1. the PollSchedule row (due now): the durable intent — the poller recreates a missing Upgrades row from it;
 *   2. the Upgrades row, insert-only (409 → read back and compare);
 *   3. the CustomerUpgrades index row, insert-only (keyed by the stored createdAt, so replays hit the same row).
 */
export async function trackUpgrade(message: TrackingMessage, deps: StartTrackingDeps): Promise<StartTrackingResult> {
  const { store } = deps;
  const now = (deps.now ?? Date.now)();
  const existing = await store.readUpgrade(message.upgradeId);
  if (existing) return onKnownUpgrade(existing.record, message, deps, now);

  const dueAt = firstPollAt(now, { firstDelayMs: deps.firstPollDelayMs ?? 0 });
  const row: ScheduleRow = {
    shard: store.shardOf(message.upgradeId),
    rowKey: scheduleRowKey(dueAt, message.upgradeId),
    dueAt,
    trackedAt: new Date(now).toISOString(),
    ...message,
  };
  await store.insertScheduleRow(row);
  const outcome = await store.mutateUpgrade(message.upgradeId, (current) =>
    current ? { result: current } : { write: newUpgradeRecord(row), result: undefined },
  );
  if (outcome.result) {
    // Another delivery won the insert between our read and write: our schedule row is surplus.
    if (outcome.result.scheduleKey !== row.rowKey) await store.deleteScheduleRow(row.shard, row.rowKey);
    return onKnownUpgrade(outcome.result, message, deps, now);
  }
  await store.ensureCustomerIndex(outcome.record!);
  return { outcome: 'tracked', upgradeId: message.upgradeId, nextPollAt: new Date(dueAt).toISOString() };
}

/** A fresh Upgrades row for a schedule row (used by startTracking and by the poller's recovery). */
export function newUpgradeRecord(row: ScheduleRow): UpgradeRecord {
  return {
    upgradeId: row.upgradeId,
    customerId: row.customerId,
    productFamily: row.productFamily,
    correlationId: row.correlationId,
    source: row.source,
    status: INITIAL_STATE.status,
    rawStatus: INITIAL_STATE.rawStatus,
    statusRank: INITIAL_STATE.rank,
    createdAt: row.trackedAt,
    updatedAt: row.trackedAt,
    attempts: 0,
    pollCount: 0,
    unchangedPolls: 0,
    nextPollAt: new Date(row.dueAt).toISOString(),
    scheduleKey: row.rowKey,
    lineItems: [],
    lineItemCount: 0,
    lineItemsTruncated: false,
    lineItemsDigest: digestKey('[]'),
    historySeq: 0,
  };
}

async function onKnownUpgrade(
  record: UpgradeRecord,
  message: TrackingMessage,
  deps: StartTrackingDeps,
  now: number,
): Promise<StartTrackingResult> {
  const { store } = deps;
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
  // Finish what a crashed first delivery may have left undone; each step is a no-op when already done.
  await store.ensureCustomerIndex(record);
  if (record.scheduleKey && !(isFinal(record.status) && record.notifiedAt)) {
    await store.insertScheduleRow({
      shard: store.shardOf(record.upgradeId),
      rowKey: record.scheduleKey,
      dueAt: parseTimeKey(record.scheduleKey),
      upgradeId: record.upgradeId,
      customerId: record.customerId,
      productFamily: record.productFamily,
      trackedAt: record.createdAt,
      correlationId: record.correlationId,
      source: record.source,
    });
  }
  return { outcome: 'duplicate', upgradeId: record.upgradeId };
}
