import { createHash } from 'node:crypto';
import { readRawJsonBody, parseJsonBody, type BodyRequest } from '../http/body';
import { validationProblem, type FieldError } from '../http/problem';
import { validateCustomerUpgradeRequest, type CustomerUpgradeRequest } from '../http/validation';
import type { Services } from '../services';
import {
  authenticateWebhook,
  EVENT_IDS,
  fingerprintOf,
  IDEMPOTENCY_KEYS,
  SIGNATURE_HEADER,
  validateReservationKey,
  withReservation,
  type HttpResponseShape,
  type ReservationPolicy,
  type ReservationRequest,
} from '../webhooks';
import { problemForError, type ErrorContext } from './errors';

/** How long a webhook may spend on Partner Center before answering 503 (the platform cuts responses at 230 s). */
export const WEBHOOK_DEADLINE_MS = 60_000;

export interface WebhookRequest extends BodyRequest {
  url: string;
}

export interface WebhookCall {
  body: CustomerUpgradeRequest;
  /** MS-CorrelationId for every Partner Center call this request makes. */
  correlationId: string;
  /**
   * A stable MS-RequestId for a create, derived from the caller's Idempotency-Key (or X-Event-Id): a retry after a
   * crash sends the same id, and Partner Center answers with the same upgrade instead of creating a second one.
   */
  stableRequestId: string | undefined;
  abortSignal: AbortSignal;
}

export interface WebhookOptions {
  /** Endpoint name: event ids and idempotency keys are per endpoint. */
  scope: string;
  /** Honour `Idempotency-Key` (endpoints that create things). */
  idempotency: boolean;
  correlationId: string;
  log: ErrorContext['log'];
}

/** A GUID-shaped id derived from text (SHA-256, version nibble 4 and RFC 4122 variant set for well-formedness). */
export function guidFrom(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Problem answers made by the shared webhook steps (signature, event dedupe, idempotency) do not know the request
 * path; RFC 9457's `instance` is filled in here so every problem names the endpoint that answered.
 */
function withInstance(response: HttpResponseShape, instance: string): HttpResponseShape {
  const body = response.jsonBody as { type?: unknown; instance?: unknown } | undefined;
  if (response.status < 400 || !body || typeof body.type !== 'string' || body.instance !== undefined) return response;
  return { ...response, jsonBody: { ...body, instance } };
}

/**
 * Every POST webhook goes through the same steps, in this order: size and media type (413/415, before reading),
 * the raw bytes read once, the signature over those bytes (401), the header ids (400), X-Event-Id dedupe (replay or
 * 409), JSON and field validation (400), Idempotency-Key (replay, 422 or 409), then the handler. Any failure of a
 * dependency on the way becomes a 503 problem, never a 500.
 */
export async function runWebhook(
  services: Services,
  request: WebhookRequest,
  options: WebhookOptions,
  handler: (call: WebhookCall) => Promise<HttpResponseShape>,
): Promise<HttpResponseShape> {
  const instance = new URL(request.url).pathname;
  return withInstance(await runSteps(services, request, options, handler, instance), instance);
}

async function runSteps(
  services: Services,
  request: WebhookRequest,
  options: WebhookOptions,
  handler: (call: WebhookCall) => Promise<HttpResponseShape>,
  instance: string,
): Promise<HttpResponseShape> {
  const errorContext: ErrorContext = { instance, telemetry: services.telemetry, log: options.log };
  try {
    const raw = await readRawJsonBody(request, { instance });
    if (!raw.ok) return raw.response;
    const auth = await authenticateWebhook(services.secrets, raw.raw, request.headers.get(SIGNATURE_HEADER));
    if (!auth.ok) return auth.response;

    const eventId = request.headers.get(EVENT_IDS.header) ?? undefined;
    const idempotencyKey = options.idempotency ? (request.headers.get(IDEMPOTENCY_KEYS.header) ?? undefined) : undefined;
    const headerErrors = [
      eventId === undefined ? undefined : validateReservationKey(EVENT_IDS, eventId),
      idempotencyKey === undefined ? undefined : validateReservationKey(IDEMPOTENCY_KEYS, idempotencyKey),
    ].filter((e): e is FieldError => e !== undefined);
    if (headerErrors.length > 0) return validationProblem(headerErrors, instance);
    const reservation = (policy: ReservationPolicy, key: string | undefined): ReservationRequest | undefined =>
      key === undefined ? undefined : { scope: options.scope, key, fingerprint: fingerprintOf(policy, raw.raw) };

    return await withReservation(services.tables, EVENT_IDS, reservation(EVENT_IDS, eventId), async () => {
      const parsed = parseJsonBody(raw.raw, instance);
      if (!parsed.ok) return parsed.response;
      const valid = validateCustomerUpgradeRequest(parsed.json);
      if (!valid.ok) return validationProblem(valid.errors, instance);
      const stableKey = idempotencyKey ?? eventId;
      const call: WebhookCall = {
        body: valid.value,
        correlationId: options.correlationId,
        stableRequestId: stableKey === undefined ? undefined : guidFrom(`${options.scope}|${stableKey}`),
        abortSignal: AbortSignal.timeout(WEBHOOK_DEADLINE_MS),
      };
      const run = (): Promise<HttpResponseShape> =>
        handler(call).catch((error: unknown) => problemForError(error, errorContext));
      return withReservation(services.tables, IDEMPOTENCY_KEYS, reservation(IDEMPOTENCY_KEYS, idempotencyKey), run);
    });
  } catch (error) {
    return problemForError(error, errorContext);
  }
}
