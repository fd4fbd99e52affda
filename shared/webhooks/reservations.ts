import { createHash, randomUUID } from 'node:crypto';
import type { TransactionAction } from '@azure/data-tables';
import { problem } from '../http/problem';
import {
  conditionalUpdate,
  ConditionalUpdateConflictError,
  type ConditionalOutcome,
  type Decision,
  type RowKeys,
  type StoredRow,
} from '../storage/conditional-update';
import { isLive, leaseFields, leaseOf, newLease, remainingMs, type LeaseFields } from '../storage/lease';
import type { Tables } from '../storage/tables';
import { digestKey, encodeKey, joinKey, KeyTooLongError, timeKey } from '../tracking/keys';
import { isReplayable, REPLAYED_HEADER, storedHeaders, type HttpResponseShape } from './responses';

/**
 * The one reservation of the webhooks: every POST's `webhook-id`, in one namespace across endpoints, with the first
 * answer stored for replay. The id is remembered with a fingerprint of the endpoint and the body, so a webhook-id is
 * bound to the one request it was first signed for. One row per id in the `WebhookIds` table:
 *
 * - the first request inserts the row (`in-progress`, held by a `Lease` of its own); a concurrent duplicate's insert
 *   meets the row, so exactly one request wins;
 * - the winner stores its final answer (conditional on its own reservation); for an answer that says "try again"
 *   (5xx, 408, 429) or a thrown error it ends its lease instead, keeping the fingerprint, so a retry of the same
 *   request runs again and nothing else can take the id;
 * - a repeat of the same request (same endpoint, same body) within the retention gets the stored answer
 *   (`idempotent-replayed: true`) and runs nothing; while the first still runs it gets 409;
 * - the same id with another endpoint or another body gets 422, never another request's answer;
 * - a row whose holder crashed (lease over) is taken over by the same request; a row past its expiry counts as absent.
 *
 * Every write is the one conditional update of the app (`conditionalUpdate`), with a pure decision.
 *
 * Keys: a row's PartitionKey is one of four shards of the id's digest, and its RowKey `i!<id>` (the encoded id), so
 * finding an id is a point read. Table Storage has no TTL: beside each reservation, in the same partition and the same
 * transaction, an expiry row `x!<hour it expires>!<id>` says when it may go, and the purge (`purgeExpiredWebhookIds`)
 * reads only expiry rows of hours gone by, a range of RowKeys per shard, never the whole table.
 */

const HOUR_MS = 3_600_000;
/** How long a webhook-id answers repeats (and is refused for any other request). */
export const RESERVATION_RETENTION_MS = 72 * HOUR_MS;
/** Longer than the 230 s the platform gives an HTTP response, so a live holder is never taken over. */
export const RESERVATION_LEASE_MS = 5 * 60_000;

/** The table's partitions (shards of the id's digest): enough to spread the load, few enough to purge each one. */
export const WEBHOOK_ID_PARTITIONS = ['w0', 'w1', 'w2', 'w3'] as const;
const RESERVATION_ROW = 'i';
const EXPIRY_ROW = 'x';

/** What a webhook-id is bound to: the endpoint and the SHA-256 of the raw body bytes. */
export function webhookFingerprint(endpoint: string, rawBody: Buffer | string): string {
  return `${endpoint}:${createHash('sha256').update(rawBody).digest('hex')}`;
}

export interface ReservationRequest {
  /** The request's webhook-id. */
  id: string;
  /** `webhookFingerprint(endpoint, rawBody)`. */
  fingerprint: string;
  now?: () => number;
}

/** The reservation row (with the lease of the request holding it in `leaseOwner`/`leaseUntil`). */
export interface ReservationRow extends LeaseFields {
  state: 'in-progress' | 'completed';
  fingerprint: string;
  createdAt: string;
  /** Epoch ms: from then on the row counts as absent (and the purge removes it). */
  expiresAt: number;
  responseStatus?: number;
  responseHeaders?: string;
  responseBodyKind?: string;
  responseChunks?: number;
  [chunk: `responseBody${number}`]: string | undefined;
}

/** Ours to complete or release: the row as we wrote it, with its ETag. */
export interface ReservationHandle {
  keys: RowKeys;
  row: ReservationRow;
  etag: string;
}

/** What the row says about a new request for its id. */
export type ReservationDecision =
  | { kind: 'acquired'; takenOver: boolean }
  | { kind: 'completed'; response: HttpResponseShape; fingerprintMatches: boolean }
  | { kind: 'in-progress'; fingerprintMatches: boolean; leaseRemainingMs: number };

export type ReservationStart =
  { kind: 'proceed'; handle: ReservationHandle } | { kind: 'respond'; response: HttpResponseShape };

/** Below the 64 KiB (UTF-16) string property limit. */
const CHUNK_CHARS = 30_000;
/** Keeps the entity well under 1 MiB. */
const MAX_CHUNKS = 15;

/**
 * The id as a key part: the one safe encoder, or, when the encoded id would be too long, its digest behind `~s`
 * (the encoder only ever writes `~` before four hex digits, so the two forms cannot collide).
 */
function idKeyPart(id: string): string {
  try {
    return encodeKey(id);
  } catch (error) {
    if (error instanceof KeyTooLongError) return `~sha256~${digestKey(id, 64)}`;
    throw error;
  }
}

/** Where a webhook-id's reservation lives: a point read. */
export function reservationKeys(id: string): RowKeys {
  return {
    partitionKey: WEBHOOK_ID_PARTITIONS[parseInt(digestKey(id, 2), 16) % WEBHOOK_ID_PARTITIONS.length],
    rowKey: joinKey(RESERVATION_ROW, idKeyPart(id)),
  };
}

/** The start of the hour, as a fixed-width key: expiry rows sort by the hour their reservation expires in. */
function hourKey(epochMs: number): string {
  return timeKey(Math.floor(epochMs / HOUR_MS) * HOUR_MS);
}

/** The expiry row written beside a reservation that expires at `expiresAt`. */
export function expiryKeys(keys: RowKeys, expiresAt: number): RowKeys {
  const idPart = keys.rowKey.slice(RESERVATION_ROW.length + 1);
  return { partitionKey: keys.partitionKey, rowKey: joinKey(EXPIRY_ROW, hourKey(expiresAt), idPart) };
}

/**
 * The RowKey range of the expiry rows of reservations that have all expired by `now` (hours before the current one),
 * and the reservation an expiry row stands for.
 */
export function expiredRange(now: number): { from: string; before: string } {
  return { from: joinKey(EXPIRY_ROW, ''), before: joinKey(EXPIRY_ROW, hourKey(now)) };
}

export function reservationOfExpiry(expiry: RowKeys): RowKeys {
  const [, , idPart] = expiry.rowKey.split('!');
  return { partitionKey: expiry.partitionKey, rowKey: joinKey(RESERVATION_ROW, idPart ?? '') };
}

/** A reservation past its expiry counts as absent (and the purge removes it). */
export function isExpired(row: Pick<ReservationRow, 'expiresAt'>, now: number): boolean {
  return Number(row.expiresAt) <= now;
}

/**
 * The decision on a request's candidate row (fresh, in progress, held by the request) against the stored row, at
 * `now`. Pure: a conflict runs it again on the row read afresh.
 */
export function decideReservation(
  current: ReservationRow | undefined,
  candidate: ReservationRow,
  now: number,
): Decision<ReservationRow, ReservationDecision> {
  if (!current) return { result: { kind: 'acquired', takenOver: false }, write: candidate };
  const expired = isExpired(current, now);
  const fingerprintMatches = current.fingerprint === candidate.fingerprint;
  if (!expired && current.state === 'completed') {
    return { result: { kind: 'completed', response: responseFrom(current), fingerprintMatches } };
  }
  const lease = leaseOf(current);
  if (!expired && (isLive(lease, now) || !fingerprintMatches)) {
    return { result: { kind: 'in-progress', fingerprintMatches, leaseRemainingMs: remainingMs(lease, now) } };
  }
  // Expired, or its holder's lease is over: take it over (a racing taker makes this write fail and decide again).
  return { result: { kind: 'acquired', takenOver: true }, write: candidate };
}

/** The answer for a request that is not the first: the stored one, 409 while it runs, 422 for another request. */
function answerFor(decision: Exclude<ReservationDecision, { kind: 'acquired' }>): HttpResponseShape {
  if (!decision.fingerprintMatches) {
    return problem(422, 'webhook-id-reused', 'The webhook-id was used for another request', {
      detail:
        `A webhook-id names one request (one endpoint, one body) for ${RESERVATION_RETENTION_MS / HOUR_MS} hours; ` +
        'send a new webhook-id for a new request.',
    });
  }
  if (decision.kind === 'in-progress') {
    return problem(409, 'request-in-progress', 'This webhook is being processed', {
      detail: 'A request with the same webhook-id is in progress; retry to get its response.',
      retryAfterSeconds: Math.min(5, Math.max(1, decision.leaseRemainingMs / 1000)),
    });
  }
  const { response } = decision;
  return { ...response, headers: { ...response.headers, [REPLAYED_HEADER]: 'true' } };
}

/** Reserves the id for this request, or says how to answer it (replay, 409, 422). */
export async function beginReservation(tables: Tables, request: ReservationRequest): Promise<ReservationStart> {
  const at = (request.now ?? Date.now)();
  const keys = reservationKeys(request.id);
  const candidate: ReservationRow = {
    state: 'in-progress',
    fingerprint: request.fingerprint,
    createdAt: new Date(at).toISOString(),
    expiresAt: at + RESERVATION_RETENTION_MS,
    ...leaseFields(newLease(randomUUID(), at, RESERVATION_LEASE_MS)),
  };
  // Lands with the reservation or not at all, so that no reservation is ever beyond the purge's reach.
  const expiry: TransactionAction = ['upsert', { ...expiryKeys(keys, candidate.expiresAt) }];
  const table = await tables.get('webhookIds');
  let outcome: ConditionalOutcome<ReservationRow, ReservationDecision>;
  try {
    // Insert first: a new id (the usual case) costs one round trip.
    outcome = await conditionalUpdate<ReservationRow, ReservationDecision>(
      table,
      keys,
      (current) => {
        const decision = decideReservation(current, candidate, at);
        return 'write' in decision ? { ...decision, alongside: [expiry] } : decision;
      },
      { known: { absent: true }, what: 'webhook-id reservation' },
    );
  } catch (error) {
    // Still contended after several rounds: someone else holds it right now.
    if (!(error instanceof ConditionalUpdateConflictError)) throw error;
    outcome = {
      result: { kind: 'in-progress', fingerprintMatches: true, leaseRemainingMs: RESERVATION_LEASE_MS },
      row: undefined,
      etag: undefined,
      changed: false,
    };
  }
  const decision = outcome.result;
  if (decision.kind !== 'acquired') return { kind: 'respond', response: answerFor(decision) };
  return { kind: 'proceed', handle: { keys, row: candidate, etag: outcome.etag ?? '*' } };
}

/**
 * Our row with our lease ended at `at`: its owner stays on the row, so only our request can withdraw what it stored,
 * and the id stays bound to our request's fingerprint.
 */
function endedRow(handle: ReservationHandle, state: ReservationRow['state'], at: number): ReservationRow {
  const { fingerprint, createdAt, expiresAt } = handle.row;
  return {
    state,
    fingerprint,
    createdAt,
    expiresAt,
    ...leaseFields({ owner: handle.row.leaseOwner ?? '', until: at }),
  };
}

function heldBy(row: ReservationRow | undefined, handle: ReservationHandle): boolean {
  return row !== undefined && leaseOf(row)?.owner === handle.row.leaseOwner;
}

/**
 * Stores the final answer for replay, or releases the reservation when the answer says "try again" (or is too large
 * to store). Returns the handle of the stored answer (to withdraw it, see `releaseReservation`), or undefined when
 * nothing was stored (not replayable, too large, or another request took the row over).
 */
export async function completeReservation(
  tables: Tables,
  handle: ReservationHandle,
  response: HttpResponseShape,
  now: () => number = Date.now,
): Promise<ReservationHandle | undefined> {
  const stored = isReplayable(response.status) ? responseFields(response) : undefined;
  if (!stored) {
    await releaseReservation(tables, handle, now);
    return undefined;
  }
  const completed: ReservationRow = { ...endedRow(handle, 'completed', now()), ...stored };
  const outcome = await conditionalUpdate<ReservationRow, boolean>(
    await tables.get('webhookIds'),
    handle.keys,
    // Another request took the row over after our lease ran out: the row is theirs now.
    (current) => (heldBy(current, handle) ? { result: true, write: completed } : { result: false }),
    { known: knownRow(handle) },
  );
  return outcome.result ? { ...handle, row: completed, etag: outcome.etag ?? '*' } : undefined;
}

/**
 * Ends our reservation, or withdraws our stored answer (only while the row is still ours), so that a retry of the
 * same request runs again: the row stays, in progress with its lease over, and keeps the id bound to this request.
 */
export async function releaseReservation(
  tables: Tables,
  handle: ReservationHandle,
  now: () => number = Date.now,
): Promise<void> {
  const released = endedRow(handle, 'in-progress', now());
  await conditionalUpdate<ReservationRow, void>(
    await tables.get('webhookIds'),
    handle.keys,
    (current) => (heldBy(current, handle) ? { result: undefined, write: released } : { result: undefined }),
    { known: knownRow(handle) },
  );
}

function knownRow(handle: ReservationHandle): StoredRow<ReservationRow> {
  return { ...handle.row, ...handle.keys, etag: handle.etag };
}

function responseFields(response: HttpResponseShape): Partial<ReservationRow> | undefined {
  let kind = 'none';
  let text = '';
  if (response.jsonBody !== undefined) {
    kind = 'json';
    text = JSON.stringify(response.jsonBody);
  } else if (response.body !== undefined) {
    kind = 'text';
    text = response.body;
  }
  const chunks = Math.ceil(text.length / CHUNK_CHARS);
  if (chunks > MAX_CHUNKS) return undefined;
  const fields: Partial<ReservationRow> = {
    responseStatus: response.status,
    responseHeaders: JSON.stringify(storedHeaders(response.headers)),
    responseBodyKind: kind,
    responseChunks: chunks,
  };
  for (let i = 0; i < chunks; i += 1) fields[`responseBody${i}`] = text.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
  return fields;
}

function responseFrom(row: ReservationRow): HttpResponseShape {
  const headers = JSON.parse(row.responseHeaders ?? '{}') as Record<string, string>;
  let text = '';
  for (let i = 0; i < Number(row.responseChunks ?? 0); i += 1) text += row[`responseBody${i}`] ?? '';
  const response: HttpResponseShape = { status: Number(row.responseStatus), headers };
  if (row.responseBodyKind === 'json') response.jsonBody = JSON.parse(text) as unknown;
  else if (row.responseBodyKind === 'text') response.body = text;
  return response;
}
