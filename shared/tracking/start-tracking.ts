import type { QueueClient } from '@azure/storage-queue';
import { AZURE_FAMILY, isGuid } from '../http/validation';
import { decodeJsonObjectMessage, guidFieldsProblem, messageText } from '../queues/message';
import type { ProductUpgrades } from '../partner-center/types';
import { sendQueueMessage } from '../queues/producer';
import { QUEUES } from '../storage/names';
import { scheduleRowKey } from './entities';
import { asPartnerCenterError } from './errors';
import { digestKey } from './keys';
import type { TrackingMessage, UpgradeRecord } from './records';
import { firstPollAt } from './schedule';
import { INITIAL_STATE } from './state';
import type { TrackingStart, TrackingStore } from './store';

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
  const waveId = fields.waveId;
  if (waveId !== undefined && waveId !== null && waveId !== '' && !isGuid(waveId)) {
    return { ok: false, reason: 'waveId must be a GUID when given' };
  }
  return {
    ok: true,
    message: {
      upgradeId: (fields.upgradeId as string).toLowerCase(),
      customerId: (fields.customerId as string).toLowerCase(),
      productFamily: AZURE_FAMILY,
      correlationId: optional('correlationId'),
      source: optional('source'),
      ...(isGuid(waveId) ? { waveId: waveId.toLowerCase() } : {}),
    },
  };
}

export interface StartTrackingDeps {
  store: TrackingStore;
  /** POLL_FIRST_DELAY_SECONDS: how long after tracking starts the first poll is due. */
  firstPollDelayMs: number;
  /**
   * Partner Center, asked once about a message for an upgrade with no row. Without it, only upgrades recorded first
   * (`acceptUpgrade`) are tracked: a message for any other upgrade is rejected.
   */
  partnerCenter?: Pick<ProductUpgrades, 'getUpgradeStatus'>;
  now?: () => number;
}

export type StartTrackingResult =
  | { outcome: 'tracked'; upgradeId: string; nextPollAt: string }
  | { outcome: 'duplicate'; upgradeId: string }
  | { outcome: 'conflict'; upgradeId: string; reason: string }
  | { outcome: 'rejected'; upgradeId?: string; reason: string };

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
 * What startTracking does with the upgrade row it read, pure: start the tracking of an upgrade recorded and not
 * started yet; nothing for one started already or recorded for another customer.
 */
function decideStart(
  current: UpgradeRecord,
  message: TrackingMessage,
  now: number,
  dueAt: number,
): TrackingStart<Decided> {
  if (current.trackingStartedAt || current.customerId !== message.customerId) {
    return { result: { outcome: 'known', record: current } };
  }
  return startNow(current, now, dueAt);
}

/** The row written started, and its first schedule row. */
function startNow(record: UpgradeRecord, now: number, dueAt: number): TrackingStart<Decided> {
  const start = startedRecord(record, now, dueAt);
  return { result: { outcome: 'tracked', record: start, dueAt }, start, dueAt };
}

/**
 * The tracking's first real work for a validated message: puts the upgrade into the poll schedule, due
 * `firstPollDelayMs` from now. One transaction, so a crash leaves all of it or none of it:
 * - an accepted upgrade (its row written by `acceptUpgrade`, not scheduled yet): its row marked started (conditional
 *   on the row read), its first schedule row, and its accepted row deleted;
 * - an upgrade with no row: every way in of this app records the upgrade first, so nothing vouches for this one but
 *   the message. Partner Center is asked once (`verifyWithPartnerCenter`) before anything is written: an upgrade it
 *   does not know for this customer is recorded in RejectedMessages and never tracked, polled or called back; a
 *   verified one gets its row, created started, and its first schedule row;
 * - an upgrade already scheduled: nothing (a duplicate); one recorded for another customer: a recorded conflict.
 * Then the customer index row (insert-only, keyed by the stored createdAt, so a replay writes the same row).
 */
export async function trackUpgrade(message: TrackingMessage, deps: StartTrackingDeps): Promise<StartTrackingResult> {
  const { store } = deps;
  const now = (deps.now ?? Date.now)();
  const dueAt = firstPollAt(now, { firstDelayMs: deps.firstPollDelayMs });
  const known = await store.scheduleFirstPoll<Decided | undefined>(message.upgradeId, (current) =>
    current ? decideStart(current, message, now, dueAt) : { result: undefined },
  );
  let decided: Decided;
  if (known) decided = known;
  else {
    const refusal = await verifyWithPartnerCenter(message, deps.partnerCenter);
    if (refusal !== undefined) {
      await store.recordRejectedMessage({
        queue: QUEUES.upgradeTracking,
        kind: 'unverified',
        reason: refusal,
        message: JSON.stringify(message),
        receivedAt: new Date(now).toISOString(),
      });
      return { outcome: 'rejected', upgradeId: message.upgradeId, reason: refusal };
    }
    // Verified: created started, unless a row appeared meanwhile (then as for any recorded upgrade). Partner Center
    // vouched for the upgrade and its customer, not for a wave: only a wave's own record carries its id.
    const { waveId: _unproven, ...vouched } = message;
    decided = await store.scheduleFirstPoll<Decided>(message.upgradeId, (current) =>
      current ? decideStart(current, message, now, dueAt) : startNow(newUpgradeRecord(vouched, now), now, dueAt),
    );
  }
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

/** Error categories that are Partner Center's answer about the upgrade itself: asking again changes nothing. */
const REFUSALS = new Set(['not-found', 'business-rule', 'invalid-input', 'conflict']);

/**
 * One status call for an upgrade nobody recorded: `undefined` when Partner Center knows it for this customer, else
 * why not (404 900106: no such upgrade; 900111: another customer's; any other refusal). Throttling, outages and
 * sign-in failures throw, so the queue retries the message (and poisons it after its last delivery, recorded).
 */
export async function verifyWithPartnerCenter(
  message: TrackingMessage,
  partnerCenter: StartTrackingDeps['partnerCenter'],
): Promise<string | undefined> {
  if (!partnerCenter) {
    return `upgrade ${message.upgradeId} was not recorded by this app and there is no Partner Center to verify it`;
  }
  try {
    await partnerCenter.getUpgradeStatus(
      { upgradeId: message.upgradeId, customerId: message.customerId, productFamily: message.productFamily },
      { correlationId: message.correlationId },
    );
    return undefined;
  } catch (error) {
    const refusal = asPartnerCenterError(error);
    if (!refusal || !REFUSALS.has(refusal.category)) throw error;
    const code = refusal.code !== undefined ? ` ${refusal.code}` : '';
    return (
      `Partner Center does not know upgrade ${message.upgradeId} for customer ${message.customerId} ` +
      `(${refusal.category}${code})`
    );
  }
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
    ...(message.waveId ? { waveId: message.waveId } : {}),
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
