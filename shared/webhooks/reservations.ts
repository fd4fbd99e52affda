import { createHash, randomUUID } from 'node:crypto';
import { problem, type FieldError, type ProblemType } from '../http/problem';
import {
  conditionalUpdate,
  ConditionalUpdateConflictError,
  type ConditionalOutcome,
  type Decision,
  type RowKeys,
  type StoredRow,
} from '../storage/conditional-update';
import { isLive, leaseFields, leaseOf, newLease, remainingMs, type LeaseFields } from '../storage/lease';
import type { TableKey } from '../storage/names';
import type { Tables } from '../storage/tables';
import { digestKey, encodeKey, KeyTooLongError } from '../tracking/keys';
import { isReplayable, REPLAYED_HEADER, storedHeaders, type HttpResponseShape } from './responses';

/**
 * The one reservation mechanism of the webhooks, with a stored first answer: webhook delivery dedupe on the sender's
 * optional `X-Event-Id`, and idempotency keys (`Idempotency-Key`) on requests that create things. One row per
 * (scope, key), in the policy's table:
 *
 * - the first request inserts the row (`in-progress`, held by a `Lease` of its own); a concurrent duplicate's insert
 *   meets the row, so exactly one request wins;
 * - the winner stores its final answer (conditional on its own reservation) or, for an answer that says "try again"
 *   (5xx, 408, 429) or a thrown error, deletes the row so a retry really runs again;
 * - a repeat within the retention gets the stored answer (`idempotent-replayed: true`) and runs nothing; a repeat while
 *   the first still runs gets 409; a key that comes back with another fingerprint (what the key is bound to, e.g. a
 *   hash of the body) gets 422;
 * - a row whose holder crashed (lease over) or that is past its expiry is taken over: of two takers, one wins.
 *
 * Every write is the one conditional update of the app (`conditionalUpdate`), with a pure decision. Table Storage
 * has no TTL: a row past `expiresAt` counts as absent and is overwritten; purging them is housekeeping.
 */

/** How long a reservation answers repeats. */
export const RESERVATION_RETENTION_MS = 72 * 3_600_000;
/** Longer than the 230 s the platform gives an HTTP response, so a live holder is never taken over. */
export const RESERVATION_LEASE_MS = 5 * 60_000;
const MAX_KEY_LENGTH = 255;

/** What one use of the mechanism (event ids, idempotency keys) is made of. */
export interface ReservationPolicy {
  /** The request header carrying the caller's key (lower case). */
  header: string;
  /** How problem details name the header. */
  field: string;
  table: TableKey;
  leaseMs: number;
  retentionMs: number;
  /** The 409 while the first request holds the reservation. */
  inProgress: { title: string; detail: string };
  /**
   * What a key is bound to: a fingerprint of the request (e.g. a hash of the body), and the 422 for a key that comes
   * back with another one. Without a binding every request of a key has the same (empty) fingerprint.
   */
  binding?: {
    fingerprint(rawBody: Buffer | string): string;
    reused: { type: ProblemType; title: string; detail: string };
  };
}

/** The fingerprint a request's key is bound to under `policy` ('' when the policy binds nothing). */
export function fingerprintOf(policy: ReservationPolicy, rawBody: Buffer | string): string {
  return policy.binding?.fingerprint(rawBody) ?? '';
}

/** SHA-256 (hex) of the raw body bytes: what an idempotency key is bound to. */
export function hashRequestBody(rawBody: Buffer | string): string {
  return createHash('sha256').update(rawBody).digest('hex');
}

export const EVENT_ID_HEADER = 'x-event-id';
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/**
 * `X-Event-Id`: a delivery of the same event to the same endpoint within 72 h is answered from storage. Ids are per
 * endpoint (the scope) and not bound to the request (no binding). Reserve after the signature check,
 * so only the signed sender can claim event ids.
 */
export const EVENT_IDS: ReservationPolicy = {
  header: EVENT_ID_HEADER,
  field: 'X-Event-Id',
  table: 'webhookEvents',
  leaseMs: RESERVATION_LEASE_MS,
  retentionMs: RESERVATION_RETENTION_MS,
  inProgress: {
    title: 'This event is being processed',
    detail: 'A delivery with the same X-Event-Id is in progress; retry to get its response.',
  },
};

/** `Idempotency-Key`: binds a key to the request body for 72 h (per endpoint). */
export const IDEMPOTENCY_KEYS: ReservationPolicy = {
  header: IDEMPOTENCY_KEY_HEADER,
  field: 'Idempotency-Key',
  table: 'idempotency',
  leaseMs: RESERVATION_LEASE_MS,
  retentionMs: RESERVATION_RETENTION_MS,
  inProgress: {
    title: 'A request with this Idempotency-Key is in progress',
    detail: 'Retry after the first request has finished to get its response.',
  },
  binding: {
    fingerprint: hashRequestBody,
    reused: {
      type: 'idempotency-key-reused',
      title: 'The Idempotency-Key was used with another request body',
      detail: 'Send a new Idempotency-Key for a different request.',
    },
  },
};

/** A key must be 1–255 visible ASCII characters (a UUID is the usual choice). */
export function validateReservationKey(policy: ReservationPolicy, key: string): FieldError | undefined {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    return { field: policy.field, message: `must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters` };
  }
  return undefined;
}

export interface ReservationRequest {
  /** Groups keys (the endpoint); encoded into the PartitionKey. */
  scope: string;
  /** The caller's key; encoded into the RowKey. */
  key: string;
  /** `fingerprintOf(policy, rawBody)`. */
  fingerprint: string;
  now?: () => number;
}

/** The reservation row (with the lease of the request holding it in `leaseOwner`/`leaseUntil`). */
export interface ReservationRow extends LeaseFields {
  state: 'in-progress' | 'completed';
  fingerprint: string;
  createdAt: string;
  /** Epoch ms: from then on the row counts as absent. */
  expiresAt: number;
  responseStatus?: number;
  responseHeaders?: string;
  responseBodyKind?: string;
  responseChunks?: number;
  [chunk: `responseBody${number}`]: string | undefined;
}

/** Ours to complete or release: the row as we wrote it, with its ETag. */
export interface ReservationHandle {
  table: TableKey;
  keys: RowKeys;
  row: ReservationRow;
  etag: string;
}

/** What the row says about a new request for its key. */
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
 * RowKey for a caller's key: the one safe encoder, or, when the encoded key would pass 1 KiB, a digest behind a `!`
 * (a character the encoder never emits, so the two forms cannot collide).
 */
export function reservationRowKey(key: string): string {
  try {
    return encodeKey(key);
  } catch (error) {
    if (error instanceof KeyTooLongError) return `!sha256!${digestKey(key, 64)}`;
    throw error;
  }
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
  const expired = Number(current.expiresAt) <= now;
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

/** The answer for a request that is not the first: the stored one, 409 while it runs, 422 for another fingerprint. */
function answerFor(policy: ReservationPolicy, decision: Exclude<ReservationDecision, { kind: 'acquired' }>) {
  const reused = policy.binding?.reused;
  if (!decision.fingerprintMatches && reused) {
    return problem(422, reused.type, reused.title, { detail: reused.detail });
  }
  if (decision.kind === 'in-progress') {
    return problem(409, 'request-in-progress', policy.inProgress.title, {
      detail: policy.inProgress.detail,
      retryAfterSeconds: Math.min(5, Math.max(1, decision.leaseRemainingMs / 1000)),
    });
  }
  const { response } = decision;
  return { ...response, headers: { ...response.headers, [REPLAYED_HEADER]: 'true' } };
}

/** Reserves the key for this request, or says how to answer it (replay, 409, 422). */
export async function beginReservation(
  tables: Tables,
  policy: ReservationPolicy,
  request: ReservationRequest,
): Promise<ReservationStart> {
  const at = (request.now ?? Date.now)();
  const keys = { partitionKey: encodeKey(request.scope), rowKey: reservationRowKey(request.key) };
  const candidate: ReservationRow = {
    state: 'in-progress',
    fingerprint: request.fingerprint,
    createdAt: new Date(at).toISOString(),
    expiresAt: at + policy.retentionMs,
    ...leaseFields(newLease(randomUUID(), at, policy.leaseMs)),
  };
  const table = await tables.get(policy.table);
  let outcome: ConditionalOutcome<ReservationRow, ReservationDecision>;
  try {
    // Insert first: a new key (the usual case) costs one round trip.
    outcome = await conditionalUpdate<ReservationRow, ReservationDecision>(
      table,
      keys,
      (current) => decideReservation(current, candidate, at),
      {
        known: { absent: true },
        what: `${policy.field} reservation`,
      },
    );
  } catch (error) {
    // Still contended after several rounds: someone else holds it right now.
    if (!(error instanceof ConditionalUpdateConflictError)) throw error;
    outcome = {
      result: { kind: 'in-progress', fingerprintMatches: true, leaseRemainingMs: policy.leaseMs },
      row: undefined,
      etag: undefined,
      changed: false,
    };
  }
  const decision = outcome.result;
  if (decision.kind !== 'acquired') return { kind: 'respond', response: answerFor(policy, decision) };
  return { kind: 'proceed', handle: { table: policy.table, keys, row: candidate, etag: outcome.etag ?? '*' } };
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
    await releaseReservation(tables, handle);
    return undefined;
  }
  // The lease ends now; its owner stays on the row, so the answer can be withdrawn by its request only.
  const owner = handle.row.leaseOwner ?? '';
  const completed: ReservationRow = {
    state: 'completed',
    fingerprint: handle.row.fingerprint,
    createdAt: handle.row.createdAt,
    expiresAt: handle.row.expiresAt,
    ...leaseFields({ owner, until: now() }),
    ...stored,
  };
  const outcome = await conditionalUpdate<ReservationRow, boolean>(
    await tables.get(handle.table),
    handle.keys,
    // Another request took the row over after our lease ran out: the row is theirs now.
    (current) => (heldBy(current, handle) ? { result: true, write: completed } : { result: false }),
    { known: knownRow(handle) },
  );
  return outcome.result ? { ...handle, row: completed, etag: outcome.etag ?? '*' } : undefined;
}

/** Deletes our reservation or our stored answer (only while it is still ours), so the next attempt runs again. */
export async function releaseReservation(tables: Tables, handle: ReservationHandle): Promise<void> {
  await conditionalUpdate<ReservationRow, void>(
    await tables.get(handle.table),
    handle.keys,
    (current) => (heldBy(current, handle) ? { result: undefined, delete: true } : { result: undefined }),
    { known: knownRow(handle) },
  );
}

function knownRow(handle: ReservationHandle): StoredRow<ReservationRow> {
  return { ...handle.row, ...handle.keys, etag: handle.etag };
}

/**
 * Runs `handler` at most once per key (within the retention), answering repeats from storage. Without a request
 * (no key sent) the handler just runs. Validate the key first with `validateReservationKey`.
 */
export async function withReservation<R extends HttpResponseShape>(
  tables: Tables,
  policy: ReservationPolicy,
  request: ReservationRequest | undefined,
  handler: () => Promise<R>,
): Promise<R | HttpResponseShape> {
  if (request === undefined) return handler();
  const begun = await beginReservation(tables, policy, request);
  if (begun.kind === 'respond') return begun.response;
  let response: R;
  try {
    response = await handler();
  } catch (error) {
    await releaseReservation(tables, begun.handle);
    throw error;
  }
  await completeReservation(tables, begun.handle, response, request.now);
  return response;
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
