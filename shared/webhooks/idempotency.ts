import { createHash } from 'node:crypto';
import type { Tables } from '../storage/tables';
import { problem, type FieldError } from '../http/problem';
import { complete, release, reserve, type ReservationHandle } from './reservations';
import { REPLAYED_HEADER, type HttpResponseShape } from './responses';

/**
 * Idempotency keys (W4) for requests that create things (`POST /api/upgrades`): the `Idempotency-Key` header binds
 * a key to the request body for 72 h. The same key and body after completion → the stored first response; the same
 * key with another body → 422; a concurrent duplicate (reserved, not completed) → 409; a reservation whose owner
 * crashed can be taken over once its lease has passed.
 */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const IDEMPOTENCY_RETENTION_MS = 72 * 3_600_000;
/** Longer than the 230 s the platform gives an HTTP response, so a live owner is never taken over. */
export const IDEMPOTENCY_LEASE_MS = 5 * 60_000;
const MAX_KEY_LENGTH = 255;

export interface IdempotencyOptions {
  /** The endpoint, e.g. "upgrades": keys are per endpoint. */
  scope: string;
  key: string;
  /** `hashRequestBody(rawBody)`. */
  bodyHash: string;
  leaseMs?: number;
  retentionMs?: number;
  now?: () => number;
}

export type IdempotencyBegin =
  { kind: 'proceed'; handle: ReservationHandle } | { kind: 'respond'; response: HttpResponseShape };

/** SHA-256 (hex) of the raw body bytes: what a key is bound to. */
export function hashRequestBody(rawBody: Buffer | string): string {
  return createHash('sha256').update(rawBody).digest('hex');
}

/** A key must be 1–255 visible ASCII characters (a UUID is the usual choice). */
export function validateIdempotencyKey(key: string): FieldError | undefined {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    return { field: 'Idempotency-Key', message: `must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters` };
  }
  return undefined;
}

export async function beginIdempotentRequest(tables: Tables, options: IdempotencyOptions): Promise<IdempotencyBegin> {
  const table = await tables.get('idempotency');
  const reservation = await reserve(table, {
    scope: options.scope,
    key: options.key,
    fingerprint: options.bodyHash,
    leaseMs: options.leaseMs ?? IDEMPOTENCY_LEASE_MS,
    retentionMs: options.retentionMs ?? IDEMPOTENCY_RETENTION_MS,
    now: options.now,
  });
  if (reservation.kind === 'acquired') return { kind: 'proceed', handle: reservation.handle };
  if (!reservation.fingerprintMatches) {
    return {
      kind: 'respond',
      response: problem(422, 'idempotency-key-reused', 'The Idempotency-Key was used with another request body', {
        detail: 'Send a new Idempotency-Key for a different request.',
      }),
    };
  }
  if (reservation.kind === 'in-progress') {
    return {
      kind: 'respond',
      response: problem(409, 'request-in-progress', 'A request with this Idempotency-Key is in progress', {
        detail: 'Retry after the first request has finished to get its response.',
        retryAfterSeconds: Math.min(5, Math.max(1, reservation.leaseRemainingMs / 1000)),
      }),
    };
  }
  const { response } = reservation;
  return { kind: 'respond', response: { ...response, headers: { ...response.headers, [REPLAYED_HEADER]: 'true' } } };
}

/** Stores a final answer for replay, or frees the key when the answer says "try again" (5xx, 408, 429). */
export async function completeIdempotentRequest(
  tables: Tables,
  handle: ReservationHandle,
  response: HttpResponseShape,
  now?: () => number,
): Promise<boolean> {
  return complete(await tables.get('idempotency'), handle, response, now);
}

/** Frees the key after a failure that produced no answer, so a retry runs again. */
export async function abandonIdempotentRequest(tables: Tables, handle: ReservationHandle): Promise<void> {
  await release(await tables.get('idempotency'), handle);
}

/**
 * Runs `handler` at most once per key and body (within the retention), answering repeats from storage. Without a
 * key (undefined) the handler just runs. Validate the key first with `validateIdempotencyKey`.
 */
export async function withIdempotency<R extends HttpResponseShape>(
  tables: Tables,
  options: Omit<IdempotencyOptions, 'key'> & { key: string | undefined },
  handler: () => Promise<R>,
): Promise<R | HttpResponseShape> {
  const { key } = options;
  if (key === undefined) return handler();
  const begun = await beginIdempotentRequest(tables, { ...options, key });
  if (begun.kind === 'respond') return begun.response;
  let response: R;
  try {
    response = await handler();
  } catch (error) {
    await abandonIdempotentRequest(tables, begun.handle);
    throw error;
  }
  await completeIdempotentRequest(tables, begun.handle, response, options.now);
  return response;
}
