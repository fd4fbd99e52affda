import type { Tables } from '../storage/tables';
import { problem, type FieldError } from '../http/problem';
import { complete, release, reserve, type ReservationHandle } from './reservations';
import { REPLAYED_HEADER, type HttpResponseShape } from './responses';

/**
 * Webhook delivery dedupe (W3) on the sender's optional `X-Event-Id`: the first delivery inserts a row in
 * `WebhookEvents` kept 72 h (older rows count as absent); a repeat gets the stored original response (status,
 * content headers, body) and runs no side effect; a repeat while the first is still running gets 409. Run it after
 * the signature check, so only the signed sender can claim event ids.
 */
export const EVENT_ID_HEADER = 'x-event-id';
export const EVENT_RETENTION_MS = 72 * 3_600_000;
export const EVENT_LEASE_MS = 5 * 60_000;
const MAX_EVENT_ID_LENGTH = 255;

export interface EventDedupeOptions {
  /** The endpoint, e.g. "eligibility": ids are per endpoint. */
  scope: string;
  eventId: string;
  leaseMs?: number;
  retentionMs?: number;
  now?: () => number;
}

export type EventBegin =
  { kind: 'proceed'; handle: ReservationHandle } | { kind: 'respond'; response: HttpResponseShape };

export function validateEventId(eventId: string): FieldError | undefined {
  if (eventId.length === 0 || eventId.length > MAX_EVENT_ID_LENGTH || !/^[\x21-\x7e]+$/.test(eventId)) {
    return { field: 'X-Event-Id', message: `must be 1 to ${MAX_EVENT_ID_LENGTH} visible ASCII characters` };
  }
  return undefined;
}

export async function beginWebhookEvent(tables: Tables, options: EventDedupeOptions): Promise<EventBegin> {
  const reservation = await reserve(await tables.get('webhookEvents'), {
    scope: options.scope,
    key: options.eventId,
    leaseMs: options.leaseMs ?? EVENT_LEASE_MS,
    retentionMs: options.retentionMs ?? EVENT_RETENTION_MS,
    now: options.now,
  });
  if (reservation.kind === 'acquired') return { kind: 'proceed', handle: reservation.handle };
  if (reservation.kind === 'in-progress') {
    return {
      kind: 'respond',
      response: problem(409, 'request-in-progress', 'This event is being processed', {
        detail: 'A delivery with the same X-Event-Id is in progress; retry to get its response.',
        retryAfterSeconds: Math.min(5, Math.max(1, reservation.leaseRemainingMs / 1000)),
      }),
    };
  }
  const { response } = reservation;
  return { kind: 'respond', response: { ...response, headers: { ...response.headers, [REPLAYED_HEADER]: 'true' } } };
}

export async function completeWebhookEvent(
  tables: Tables,
  handle: ReservationHandle,
  response: HttpResponseShape,
  now?: () => number,
): Promise<boolean> {
  return complete(await tables.get('webhookEvents'), handle, response, now);
}

export async function abandonWebhookEvent(tables: Tables, handle: ReservationHandle): Promise<void> {
  await release(await tables.get('webhookEvents'), handle);
}

/** Runs `handler` once per event id (within 72 h); without an id it just runs. Validate with `validateEventId`. */
export async function withEventDedupe<R extends HttpResponseShape>(
  tables: Tables,
  options: Omit<EventDedupeOptions, 'eventId'> & { eventId: string | undefined },
  handler: () => Promise<R>,
): Promise<R | HttpResponseShape> {
  const { eventId } = options;
  if (eventId === undefined) return handler();
  const begun = await beginWebhookEvent(tables, { ...options, eventId });
  if (begun.kind === 'respond') return begun.response;
  let response: R;
  try {
    response = await handler();
  } catch (error) {
    await abandonWebhookEvent(tables, begun.handle);
    throw error;
  }
  await completeWebhookEvent(tables, begun.handle, response, options.now);
  return response;
}
