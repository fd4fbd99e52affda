import { randomUUID } from 'node:crypto';
import { RestError, type TableClient } from '@azure/data-tables';
import { digestKey, encodeKey, KeyTooLongError } from '../tracking/keys';
import { isReplayable, storedHeaders, type HttpResponseShape } from './responses';

/**
 * Insert-only reservations with a stored first response: the shared core of webhook event dedupe (W3) and
 * idempotency keys (W4). One row per (scope, key):
 *
 * - the first request inserts the row (`state: in-progress`, an owner id and a lease); a concurrent duplicate's insert
 *   gets 409 from the service, so exactly one request wins;
 * - the winner stores its final answer (ETag-conditional on its own reservation) or, for an answer that says "try
 *   again" (5xx, 408, 429) or a thrown error, deletes the row so a retry really runs again;
 * - a row whose owner crashed (lease passed) or that is past its retention is taken over by an ETag-conditional
 *   replace: of two takers, one wins (412 for the other, which then re-reads).
 *
 * Table Storage has no TTL: expired rows are treated as absent and overwritten; purging them is housekeeping.
 */

export interface ReservationOptions {
  /** Groups keys (the endpoint); encoded into the PartitionKey. */
  scope: string;
  /** The caller's key (event id, idempotency key); encoded into the RowKey. */
  key: string;
  /** What the key is bound to (a hash of the request body); a different one on reuse is reported. */
  fingerprint?: string;
  /** How long the row answers repeats. */
  retentionMs: number;
  /** How long an unfinished reservation blocks others before a new request may take it over. */
  leaseMs: number;
  now?: () => number;
}

export interface ReservationHandle {
  partitionKey: string;
  rowKey: string;
  etag: string;
  ownerId: string;
  fingerprint: string;
  expiresAt: number;
}

export type Reservation =
  | { kind: 'acquired'; handle: ReservationHandle; takenOver: boolean }
  | { kind: 'completed'; response: HttpResponseShape; fingerprintMatches: boolean }
  | { kind: 'in-progress'; fingerprintMatches: boolean; leaseRemainingMs: number };

interface ReservationEntity {
  partitionKey: string;
  rowKey: string;
  etag?: string;
  state: string;
  ownerId: string;
  fingerprint: string;
  createdAt: string;
  leaseExpiresAt: number;
  expiresAt: number;
  responseStatus?: number;
  responseHeaders?: string;
  responseBodyKind?: string;
  responseChunks?: number;
  [chunk: `responseBody${number}`]: string | undefined;
}

/** Below the 64 KiB (UTF-16) string property limit. */
const CHUNK_CHARS = 30_000;
/** Keeps the entity well under 1 MiB. */
const MAX_CHUNKS = 15;
const MAX_ATTEMPTS = 4;

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

function statusOf(error: unknown): number | undefined {
  return error instanceof RestError ? error.statusCode : undefined;
}

export async function reserve(table: TableClient, options: ReservationOptions): Promise<Reservation> {
  const now = options.now ?? Date.now;
  const partitionKey = encodeKey(options.scope);
  const rowKey = reservationRowKey(options.key);
  const fingerprint = options.fingerprint ?? '';
  const fresh = (): ReservationEntity => {
    const at = now();
    return {
      partitionKey,
      rowKey,
      state: 'in-progress',
      ownerId: randomUUID(),
      fingerprint,
      createdAt: new Date(at).toISOString(),
      leaseExpiresAt: at + options.leaseMs,
      expiresAt: at + options.retentionMs,
    };
  };
  const handleFor = (entity: ReservationEntity, etag: string | undefined): ReservationHandle => ({
    partitionKey,
    rowKey,
    etag: etag ?? '*',
    ownerId: entity.ownerId,
    fingerprint,
    expiresAt: entity.expiresAt,
  });

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    const entity = fresh();
    try {
      const created = await table.createEntity(entity);
      return { kind: 'acquired', handle: handleFor(entity, created.etag), takenOver: false };
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
    let existing: ReservationEntity & { etag: string };
    try {
      existing = await table.getEntity<ReservationEntity>(partitionKey, rowKey);
    } catch (error) {
      if (statusOf(error) === 404) continue; // released between our insert and read: insert again
      throw error;
    }
    const at = now();
    const expired = Number(existing.expiresAt) <= at;
    const fingerprintMatches = existing.fingerprint === fingerprint;
    if (!expired && existing.state === 'completed') {
      return { kind: 'completed', response: responseFrom(existing), fingerprintMatches };
    }
    const leaseRemainingMs = Number(existing.leaseExpiresAt) - at;
    if (!expired && (leaseRemainingMs > 0 || !fingerprintMatches)) {
      return { kind: 'in-progress', fingerprintMatches, leaseRemainingMs: Math.max(0, leaseRemainingMs) };
    }
    // Expired, or its owner's lease has passed: take it over, unless another request does first.
    try {
      const updated = await table.updateEntity(entity, 'Replace', { etag: existing.etag });
      return { kind: 'acquired', handle: handleFor(entity, updated.etag), takenOver: true };
    } catch (error) {
      const status = statusOf(error);
      if (status !== 412 && status !== 404) throw error;
    }
  }
  // Still contended after several rounds: someone else holds it right now.
  return { kind: 'in-progress', fingerprintMatches: true, leaseRemainingMs: options.leaseMs };
}

/**
 * Stores the final answer for replay, or releases the reservation when the answer says "try again".
 * Returns false when the answer was not stored (not replayable, too large, or another request took the row over).
 */
export async function complete(
  table: TableClient,
  handle: ReservationHandle,
  response: HttpResponseShape,
  now: () => number = Date.now,
): Promise<boolean> {
  if (!isReplayable(response.status)) {
    await release(table, handle);
    return false;
  }
  const stored = responseFields(response);
  if (!stored) {
    await release(table, handle);
    return false;
  }
  const entity: ReservationEntity = {
    partitionKey: handle.partitionKey,
    rowKey: handle.rowKey,
    state: 'completed',
    ownerId: handle.ownerId,
    fingerprint: handle.fingerprint,
    createdAt: new Date(now()).toISOString(),
    leaseExpiresAt: 0,
    expiresAt: handle.expiresAt,
    ...stored,
  };
  try {
    await table.updateEntity(entity, 'Replace', { etag: handle.etag });
    return true;
  } catch (error) {
    const status = statusOf(error);
    if (status === 412 || status === 404) return false; // our lease passed and another request owns the row now
    throw error;
  }
}

/** Deletes our reservation (only if it is still ours), so the next attempt runs again. */
export async function release(table: TableClient, handle: ReservationHandle): Promise<void> {
  try {
    await table.deleteEntity(handle.partitionKey, handle.rowKey, { etag: handle.etag });
  } catch (error) {
    const status = statusOf(error);
    if (status !== 412 && status !== 404) throw error;
  }
}

function responseFields(response: HttpResponseShape): Partial<ReservationEntity> | undefined {
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
  const fields: Partial<ReservationEntity> = {
    responseStatus: response.status,
    responseHeaders: JSON.stringify(storedHeaders(response.headers)),
    responseBodyKind: kind,
    responseChunks: chunks,
  };
  for (let i = 0; i < chunks; i += 1) fields[`responseBody${i}`] = text.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
  return fields;
}

function responseFrom(entity: ReservationEntity): HttpResponseShape {
  const headers = JSON.parse(entity.responseHeaders ?? '{}') as Record<string, string>;
  let text = '';
  for (let i = 0; i < Number(entity.responseChunks ?? 0); i += 1) text += entity[`responseBody${i}`] ?? '';
  const response: HttpResponseShape = { status: Number(entity.responseStatus), headers };
  if (entity.responseBodyKind === 'json') response.jsonBody = JSON.parse(text) as unknown;
  else if (entity.responseBodyKind === 'text') response.body = text;
  return response;
}
