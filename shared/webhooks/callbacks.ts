import { RestError } from '@azure/data-tables';
import type { UpgradeLineItem } from '../partner-center/types';
import type { Tables } from '../storage/tables';
import { encodeKey } from '../tracking/keys';
import type { UpgradeEvent } from '../tracking/records';
import { appVersion } from '../version';
import { EVENT_ID_HEADER } from './reservations';
import { SIGNATURE_HEADER, signPayload } from './signature';

/**
 * Billing callbacks: one signed POST of an upgrade's final result to `BILLING_CALLBACK_URL`. One attempt per call:
 * retries with growing delays belong to the queue trigger (its dequeue count and visibility timeout), so this is a
 * plain `fetch` rather than an SDK pipeline with its own retry policy; `fetchImpl` lets tests inject faults.
 */
export interface CallbackPayload {
  eventId: string;
  event: UpgradeEvent;
  upgradeId: string;
  customerId: string;
  status: string;
  lineItems: readonly UpgradeLineItem[];
  completedAt: string;
}

export type DeliveryOutcome = 'delivered' | 'rejected' | 'retry';

export interface DeliveryResult {
  outcome: DeliveryOutcome;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why it was not delivered: value-free (no secret, no URL query). */
  error?: string;
  durationMs: number;
}

export interface DeliverCallbackOptions {
  url: string;
  payload: CallbackPayload;
  /** `CALLBACK_SIGNING_SECRET` as a list: several during a rotation (one `v1` each). */
  secrets: readonly string[];
  timeoutMs: number;
  fetchImpl?: typeof fetch;
  /** Unix seconds for the signature (tests). */
  timestamp?: number;
}

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/** Origin and path only: a callback URL may carry a key in its query string. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** https, or plain http on loopback only. */
export function checkCallbackUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'the callback URL is not an absolute URL';
  }
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && LOOPBACK.includes(parsed.hostname)) return undefined;
  return 'the callback URL must use https (plain http only for localhost)';
}

/** 2xx delivered; 408, 429 and 5xx retry; 3xx (never followed) and other 4xx are final rejections. */
export function classifyStatus(status: number): DeliveryOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'rejected';
}

function networkReason(error: unknown, timeoutMs: number): string {
  // By name, not instanceof: the abort reason is a DOMException, which need not be an Error of this realm.
  const name = (error as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return code ? `network error ${code}` : 'network error';
}

function redirectTarget(location: string | null, base: string): string {
  if (!location) return '';
  try {
    return ` to ${redactUrl(new URL(location, base).toString())}`;
  } catch {
    return '';
  }
}

export async function deliverCallback(options: DeliverCallbackOptions): Promise<DeliveryResult> {
  const started = Date.now();
  const done = (result: Omit<DeliveryResult, 'durationMs'>): DeliveryResult => ({
    ...result,
    durationMs: Date.now() - started,
  });
  const urlProblem = checkCallbackUrl(options.url);
  if (urlProblem) return done({ outcome: 'rejected', error: urlProblem });
  const secrets = options.secrets.filter((s) => s.length > 0);
  if (secrets.length === 0) {
    return done({
      outcome: 'rejected',
      error: 'CALLBACK_SIGNING_SECRET is not set: callbacks are never sent unsigned',
    });
  }

  const body = JSON.stringify(options.payload);
  const fetchImpl = options.fetchImpl ?? fetch;
  let response: Response;
  try {
    response = await fetchImpl(options.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': `azure-plan-upgrades/${appVersion()}`,
        [SIGNATURE_HEADER]: signPayload(body, secrets, options.timestamp),
        [EVENT_ID_HEADER]: options.payload.eventId,
      },
      body,
    });
  } catch (error) {
    return done({ outcome: 'retry', error: networkReason(error, options.timeoutMs) });
  }
  // The body is not needed; cancelling frees the connection.
  await response.body?.cancel().catch(() => undefined);
  const { status } = response;
  const outcome = classifyStatus(status);
  if (outcome === 'delivered') return done({ outcome, status });
  if (status >= 300 && status < 400) {
    const target = redirectTarget(response.headers.get('location'), options.url);
    return done({ outcome: 'rejected', status, error: `HTTP ${status}: redirect${target} not followed` });
  }
  return done({ outcome, status, error: `HTTP ${status} from ${redactUrl(options.url)}` });
}

/**
 * What the `Callbacks` table keeps per event: the latest outcome, durable for rejected and poisoned ones; `sending`
 * while one worker holds the send claim (see `claimCallbackSend`).
 */
export type RecordedOutcome = DeliveryOutcome | 'poisoned' | 'sending';

export interface CallbackRecord {
  upgradeId: string;
  eventId: string;
  event: string;
  outcome: RecordedOutcome;
  status?: number;
  error?: string;
  /** The queue message's dequeue count for this attempt. */
  attempt?: number;
  recordedAt: string;
  deliveredAt?: string;
  /** While `sending`: until when the claim holds (epoch ms). */
  leaseUntil?: number;
}

const FINAL_OUTCOMES: readonly RecordedOutcome[] = ['delivered', 'rejected', 'poisoned'];
const MAX_ERROR_CHARS = 1_000;

interface CallbackEntity {
  partitionKey: string;
  rowKey: string;
  upgradeId: string;
  eventId: string;
  event: string;
  outcome: string;
  status?: number;
  error?: string;
  attempt?: number;
  recordedAt: string;
  deliveredAt?: string;
  leaseUntil?: number;
}

export function isFinalOutcome(outcome: RecordedOutcome): boolean {
  return FINAL_OUTCOMES.includes(outcome);
}

function statusOf(error: unknown): number | undefined {
  return error instanceof RestError ? error.statusCode : undefined;
}

/**
 * Records a delivery outcome for (upgrade, event). A final outcome (delivered, rejected, poisoned) is never
 * replaced by a later `retry` (a duplicate queue message must not make a delivered callback look pending);
 * writes are insert-or-ETag-conditional with a bounded re-read.
 */
export async function recordCallbackOutcome(
  tables: Tables,
  record: Omit<CallbackRecord, 'recordedAt' | 'deliveredAt'> & { recordedAt?: string },
): Promise<CallbackRecord> {
  const table = await tables.get('callbacks');
  const partitionKey = encodeKey(record.upgradeId);
  const rowKey = encodeKey(record.eventId);
  const recordedAt = record.recordedAt ?? new Date().toISOString();
  const entity: CallbackEntity = {
    partitionKey,
    rowKey,
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
  for (let round = 0; round < 4; round += 1) {
    let existing: (CallbackEntity & { etag: string }) | undefined;
    try {
      existing = await table.getEntity<CallbackEntity>(partitionKey, rowKey);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    if (existing && FINAL_OUTCOMES.includes(existing.outcome as RecordedOutcome) && record.outcome === 'retry') {
      return fromEntity(existing);
    }
    try {
      if (existing) await table.updateEntity(entity, 'Replace', { etag: existing.etag });
      else await table.createEntity(entity);
      return fromEntity(entity);
    } catch (error) {
      const status = statusOf(error);
      if (status !== 409 && status !== 412) throw error; // someone else wrote first: re-read and decide again
    }
  }
  throw new Error(`Callback outcome for event ${record.eventId} kept conflicting; not recorded`);
}

export type SendClaim =
  { kind: 'claimed' } | { kind: 'final'; record: CallbackRecord } | { kind: 'busy'; leaseRemainingMs: number };

/**
 * Claims the right to POST an event, so that two copies of one notification handled at once (at-least-once queue,
 * two instances) send it once: the row moves to `sending` with a lease, insert-only or ETag-conditional, so of two
 * claimers exactly one wins. A final row means nothing is to be sent; a live claim of someone else means `busy`.
 * A claim whose holder died expires after `leaseMs` and can be taken over. The outcome written afterwards by
 * `recordCallbackOutcome` replaces the claim.
 */
export async function claimCallbackSend(
  tables: Tables,
  claim: { upgradeId: string; eventId: string; event: string; attempt: number; leaseMs: number; now?: () => number },
): Promise<SendClaim> {
  const table = await tables.get('callbacks');
  const partitionKey = encodeKey(claim.upgradeId);
  const rowKey = encodeKey(claim.eventId);
  for (let round = 0; round < 4; round += 1) {
    const now = (claim.now ?? Date.now)();
    let existing: (CallbackEntity & { etag: string }) | undefined;
    try {
      existing = await table.getEntity<CallbackEntity>(partitionKey, rowKey);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    if (existing && isFinalOutcome(existing.outcome as RecordedOutcome)) {
      return { kind: 'final', record: fromEntity(existing) };
    }
    const leaseUntil = Number(existing?.leaseUntil ?? 0);
    if (existing?.outcome === 'sending' && leaseUntil > now)
      return { kind: 'busy', leaseRemainingMs: leaseUntil - now };
    const entity: CallbackEntity = {
      partitionKey,
      rowKey,
      upgradeId: claim.upgradeId,
      eventId: claim.eventId,
      event: claim.event,
      outcome: 'sending',
      attempt: claim.attempt,
      recordedAt: new Date(now).toISOString(),
      leaseUntil: now + claim.leaseMs,
    };
    try {
      if (existing) await table.updateEntity(entity, 'Replace', { etag: existing.etag });
      else await table.createEntity(entity);
      return { kind: 'claimed' };
    } catch (error) {
      const status = statusOf(error);
      if (status !== 409 && status !== 412) throw error; // another claimer wrote first: re-read and decide again
    }
  }
  throw new Error(`The send claim for event ${claim.eventId} kept conflicting`);
}

export async function readCallbackRecord(
  tables: Tables,
  upgradeId: string,
  eventId: string,
): Promise<CallbackRecord | undefined> {
  const table = await tables.get('callbacks');
  try {
    return fromEntity(await table.getEntity<CallbackEntity>(encodeKey(upgradeId), encodeKey(eventId)));
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

function fromEntity(entity: CallbackEntity): CallbackRecord {
  const record: CallbackRecord = {
    upgradeId: entity.upgradeId,
    eventId: entity.eventId,
    event: entity.event,
    outcome: entity.outcome as RecordedOutcome,
    recordedAt: entity.recordedAt,
  };
  if (entity.status !== undefined && entity.status !== null) record.status = Number(entity.status);
  if (entity.error) record.error = entity.error;
  if (entity.attempt !== undefined && entity.attempt !== null) record.attempt = Number(entity.attempt);
  if (entity.deliveredAt) record.deliveredAt = entity.deliveredAt;
  if (entity.leaseUntil !== undefined && entity.leaseUntil !== null) record.leaseUntil = Number(entity.leaseUntil);
  return record;
}
