import type { TableClient } from '@azure/data-tables';
import { conditionalUpdate, readRow, type Decision, type RowKeys, type StoredRow } from '../storage/conditional-update';
import { heldByOther, leaseFields, leaseOf, remainingMs, type Lease, type LeaseFields } from '../storage/lease';
import type { Tables } from '../storage/tables';
import { encodeKey } from '../tracking/keys';
import type { DeliveryOutcome } from './delivery';

/**
 * The `Callbacks` table: one row per (upgrade, event) with the latest delivery outcome, durable for the final ones
 * (delivered, rejected, poisoned), and `sending` while one sender holds the send claim (a `Lease`).
 *
 * A message costs one read of its row (`readCallbackRow`, before anything else) and the two conditional writes that
 * the claim and the outcome are: each passes the row it was decided on (`known`), so a row is read again only when
 * another writer changed it in between. Both decisions are pure functions of the row.
 */
export type RecordedOutcome = DeliveryOutcome | 'poisoned' | 'sending';

/** The part of `Tables` the Callbacks table needs (tests wrap it to count reads). */
export type CallbackTables = Pick<Tables, 'get'>;

export interface CallbackRecord {
  upgradeId: string;
  eventId: string;
  event: string;
  outcome: RecordedOutcome;
  status?: number;
  error?: string;
  /** The message's attempt this outcome comes from. */
  attempt?: number;
  recordedAt: string;
  deliveredAt?: string;
  /** While `sending`: who holds the send claim, and until when. */
  lease?: Lease;
}

/** The row as stored. */
export interface CallbackRow extends LeaseFields {
  upgradeId: string;
  eventId: string;
  event: string;
  outcome: string;
  status?: number;
  error?: string;
  attempt?: number;
  recordedAt: string;
  deliveredAt?: string;
}

/** A row as read or written, with its ETag: what the next conditional write is decided on. */
export type KnownCallbackRow = StoredRow<CallbackRow> | { absent: true };

const FINAL_OUTCOMES: readonly RecordedOutcome[] = ['delivered', 'rejected', 'poisoned'];
const MAX_ERROR_CHARS = 1_000;

export function isFinalOutcome(outcome: string): boolean {
  return (FINAL_OUTCOMES as readonly string[]).includes(outcome);
}

function keysOf(upgradeId: string, eventId: string): RowKeys {
  return { partitionKey: encodeKey(upgradeId), rowKey: encodeKey(eventId) };
}

function table(tables: CallbackTables): Promise<TableClient> {
  return tables.get('callbacks');
}

export function recordFrom(row: CallbackRow): CallbackRecord {
  const record: CallbackRecord = {
    upgradeId: row.upgradeId,
    eventId: row.eventId,
    event: row.event,
    outcome: row.outcome as RecordedOutcome,
    recordedAt: row.recordedAt,
  };
  if (row.status !== undefined && row.status !== null) record.status = Number(row.status);
  if (row.error) record.error = row.error;
  if (row.attempt !== undefined && row.attempt !== null) record.attempt = Number(row.attempt);
  if (row.deliveredAt) record.deliveredAt = row.deliveredAt;
  const lease = leaseOf(row);
  if (lease) record.lease = lease;
  return record;
}

/** The row of one event, as the job reads it once per message (absent when the event was never handled). */
export async function readCallbackRow(
  tables: CallbackTables,
  upgradeId: string,
  eventId: string,
): Promise<KnownCallbackRow> {
  return (await readRow<CallbackRow>(await table(tables), keysOf(upgradeId, eventId))) ?? { absent: true };
}

/** The record a known row holds, if any. */
export function knownRecord(row: KnownCallbackRow): CallbackRecord | undefined {
  return 'absent' in row ? undefined : recordFrom(row);
}

/** What the claim decision says: ours to send, already final, or being sent by another sender right now. */
export type ClaimDecision =
  { kind: 'claimed' } | { kind: 'final'; record: CallbackRecord } | { kind: 'busy'; leaseRemainingMs: number };

/** The claim, with the row as we wrote it when it is ours (for the outcome's conditional write). */
export type SendClaim = Exclude<ClaimDecision, { kind: 'claimed' }> | { kind: 'claimed'; row: KnownCallbackRow };

/**
 * The claim decision: a final row means nothing is to be sent; a live claim of another sender means busy; anything
 * else (no row, a retry, a claim whose holder died) is claimed with `candidate` (`sending`, with our lease).
 */
export function decideSendClaim(
  current: CallbackRow | undefined,
  candidate: CallbackRow,
  now: number,
): Decision<CallbackRow, ClaimDecision> {
  if (current && isFinalOutcome(current.outcome)) return { result: { kind: 'final', record: recordFrom(current) } };
  const lease = leaseOf(current);
  if (current?.outcome === 'sending' && heldByOther(lease, candidate.leaseOwner ?? '', now)) {
    return { result: { kind: 'busy', leaseRemainingMs: remainingMs(lease, now) } };
  }
  return { result: { kind: 'claimed' }, write: candidate };
}

/**
 * Claims the right to POST an event, so that copies of one notification handled at once (at-least-once queue, two
 * instances) send it once: of two claimers exactly one wins. A claim whose holder died runs out with its lease and
 * can be taken over. The outcome written afterwards (`recordCallbackOutcome`, given the claimed row) replaces it.
 */
export async function claimCallbackSend(
  tables: CallbackTables,
  claim: { upgradeId: string; eventId: string; event: string; attempt: number; lease: Lease; now: number },
  known?: KnownCallbackRow,
): Promise<SendClaim> {
  const candidate: CallbackRow = {
    upgradeId: claim.upgradeId,
    eventId: claim.eventId,
    event: claim.event,
    outcome: 'sending',
    attempt: claim.attempt,
    recordedAt: new Date(claim.now).toISOString(),
    ...leaseFields(claim.lease),
  };
  const keys = keysOf(claim.upgradeId, claim.eventId);
  const outcome = await conditionalUpdate(
    await table(tables),
    keys,
    (current) => decideSendClaim(current, candidate, claim.now),
    { known, what: `the send claim of event ${claim.eventId}` },
  );
  if (outcome.result.kind !== 'claimed') return outcome.result;
  return { kind: 'claimed', row: { ...candidate, ...keys, etag: outcome.etag ?? '*' } };
}

/** The outcome decision: a final outcome is never replaced by a later non-final one (a duplicate message). */
export function decideOutcome(
  current: CallbackRow | undefined,
  next: CallbackRow,
): Decision<CallbackRow, CallbackRecord> {
  if (current && isFinalOutcome(current.outcome) && !isFinalOutcome(next.outcome)) {
    return { result: recordFrom(current) };
  }
  return { result: recordFrom(next), write: next };
}

/**
 * Records a delivery outcome for (upgrade, event), on the row as the caller knows it (the claimed row: no read unless
 * someone wrote in between).
 */
export async function recordCallbackOutcome(
  tables: CallbackTables,
  record: Omit<CallbackRecord, 'recordedAt' | 'deliveredAt' | 'lease'> & {
    outcome: Exclude<RecordedOutcome, 'sending'>;
  },
  options: { now?: () => number; known?: KnownCallbackRow } = {},
): Promise<CallbackRecord> {
  const recordedAt = new Date((options.now ?? Date.now)()).toISOString();
  const next: CallbackRow = {
    upgradeId: record.upgradeId,
    eventId: record.eventId,
    event: record.event,
    outcome: record.outcome,
    recordedAt,
    ...(record.status !== undefined ? { status: record.status } : {}),
    ...(record.error !== undefined ? { error: record.error.slice(0, MAX_ERROR_CHARS) } : {}),
    ...(record.attempt !== undefined ? { attempt: record.attempt } : {}),
    ...(record.outcome === 'delivered' ? { deliveredAt: recordedAt } : {}),
  };
  const outcome = await conditionalUpdate(
    await table(tables),
    keysOf(record.upgradeId, record.eventId),
    (current) => decideOutcome(current, next),
    { known: options.known, what: `the callback outcome of event ${record.eventId}` },
  );
  return outcome.result;
}
