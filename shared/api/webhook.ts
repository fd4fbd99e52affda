import { readRawJsonBody, parseJsonBody, type BodyRequest } from '../http/body';
import { validationProblem, type FieldError } from '../http/problem';
import { validateCustomerUpgradeRequest, type CustomerUpgradeRequest } from '../http/validation';
import { guidFromDigest } from '../ids';
import type { Services } from '../services';
import {
  authenticateWebhook,
  beginReservation,
  completeReservation,
  EVENT_IDS,
  fingerprintOf,
  IDEMPOTENCY_KEYS,
  releaseReservation,
  SIGNATURE_HEADER,
  validateReservationKey,
  type HttpResponseShape,
  type ReservationHandle,
  type ReservationPolicy,
  type ReservationStart,
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
 * A webhook whose work starts with reads only (no side effect), so that they can run while the delivery's
 * `X-Event-Id` is being reserved: a repeated delivery discards what `read` found. `write` makes the side effects and
 * the answer.
 */
export interface WebhookSteps<Found> {
  read(call: WebhookCall): Promise<Found>;
  write(call: WebhookCall, found: Found): Promise<WebhookAnswer>;
}

export interface WebhookAnswer {
  response: HttpResponseShape;
  /**
   * Side effects still landing when the answer is already known: the answer is stored for replay meanwhile. Should
   * they fail, the stored answer is withdrawn and the caller gets the failure, so a retry runs again.
   */
  landing?: Promise<unknown>;
}

export type WebhookHandler<Found> = ((call: WebhookCall) => Promise<HttpResponseShape>) | WebhookSteps<Found>;

/**
 * Every POST webhook goes through the same steps, in this order: size and media type (413/415, before reading),
 * the raw bytes read once, the signature over those bytes (401), the header ids (400), X-Event-Id dedupe (replay or
 * 409), JSON and field validation (400), Idempotency-Key (replay, 422 or 409), then the handler. Any failure of a
 * dependency on the way becomes a 503 problem, never a 500.
 *
 * Table Storage round trips are overlapped where nothing depends on them: the X-Event-Id reservation runs while a
 * handler's read-only first step does (`WebhookSteps`), and the answer is stored for replay while the handler's last
 * side effects land (`WebhookAnswer.landing`); the Idempotency-Key and the event's stored answers are written at once.
 */
export async function runWebhook<Found>(
  services: Services,
  request: WebhookRequest,
  options: WebhookOptions,
  handler: WebhookHandler<Found>,
): Promise<HttpResponseShape> {
  const instance = new URL(request.url).pathname;
  return withInstance(await runSteps(services, request, options, handler, instance), instance);
}

async function runSteps<Found>(
  services: Services,
  request: WebhookRequest,
  options: WebhookOptions,
  handler: WebhookHandler<Found>,
  instance: string,
): Promise<HttpResponseShape> {
  const errorContext: ErrorContext = { instance, telemetry: services.telemetry, log: options.log };
  const { tables } = services;
  const held: ReservationHandle[] = [];
  try {
    const raw = await readRawJsonBody(request, { instance });
    if (!raw.ok) return raw.response;
    const auth = await authenticateWebhook(services.secrets, raw.raw, request.headers.get(SIGNATURE_HEADER));
    if (!auth.ok) return auth.response;

    const eventId = request.headers.get(EVENT_IDS.header) ?? undefined;
    const idempotencyKey = options.idempotency
      ? (request.headers.get(IDEMPOTENCY_KEYS.header) ?? undefined)
      : undefined;
    const headerErrors = [
      eventId === undefined ? undefined : validateReservationKey(EVENT_IDS, eventId),
      idempotencyKey === undefined ? undefined : validateReservationKey(IDEMPOTENCY_KEYS, idempotencyKey),
    ].filter((e): e is FieldError => e !== undefined);
    if (headerErrors.length > 0) return validationProblem(headerErrors, instance);
    const reserve = (policy: ReservationPolicy, key: string | undefined): Promise<ReservationStart | undefined> =>
      key === undefined
        ? Promise.resolve(undefined)
        : beginReservation(tables, policy, { scope: options.scope, key, fingerprint: fingerprintOf(policy, raw.raw) });

    const event = reserve(EVENT_IDS, eventId);
    const work = startWork(raw.raw, instance, options, handler, idempotencyKey ?? eventId);

    const eventStart = await event;
    if (eventStart?.kind === 'respond') return eventStart.response;
    if (eventStart) held.push(eventStart.handle);
    if (!work.ok) return await settle(tables, held, work.response);

    const keyStart = await reserve(IDEMPOTENCY_KEYS, idempotencyKey);
    if (keyStart?.kind === 'respond') return await settle(tables, held, keyStart.response);
    if (keyStart) held.push(keyStart.handle);

    let answer: WebhookAnswer;
    try {
      answer = await work.run();
    } catch (error) {
      answer = { response: problemForError(error, errorContext) };
    }
    const failure = answer.landing?.then(
      () => undefined,
      (error: unknown) => problemForError(error, errorContext),
    );
    return await settle(tables, held, answer.response, failure);
  } catch (error) {
    // A dependency failed on the way (a reservation, storing the answer): nothing is kept, the caller retries.
    await Promise.allSettled(held.map((handle) => releaseReservation(tables, handle)));
    return problemForError(error, errorContext);
  }
}

type Work = { ok: true; run: () => Promise<WebhookAnswer> } | { ok: false; response: HttpResponseShape };

/**
 * JSON and field validation (no I/O), then, for a valid body, the call, with the handler's read-only first step
 * started at once. `run` awaits what `read` found: it is called only once the delivery is known to be new (a repeat
 * discards it).
 */
function startWork<Found>(
  raw: Buffer,
  instance: string,
  options: WebhookOptions,
  handler: WebhookHandler<Found>,
  stableKey: string | undefined,
): Work {
  const parsed = parseJsonBody(raw, instance);
  if (!parsed.ok) return parsed;
  const valid = validateCustomerUpgradeRequest(parsed.json);
  if (!valid.ok) return { ok: false, response: validationProblem(valid.errors, instance) };
  const call: WebhookCall = {
    body: valid.value,
    correlationId: options.correlationId,
    stableRequestId: stableKey === undefined ? undefined : guidFromDigest(`${options.scope}|${stableKey}`),
    abortSignal: AbortSignal.timeout(WEBHOOK_DEADLINE_MS),
  };
  if (typeof handler === 'function') return { ok: true, run: async () => ({ response: await handler(call) }) };
  const found = handler.read(call);
  // Awaited later, or never (a repeat): a failure is handled where it is awaited, not reported as unhandled here.
  found.catch(() => undefined);
  return { ok: true, run: async () => handler.write(call, await found) };
}

/**
 * Stores the answer for replay under every reservation held, at once, while the answer's last side effects land
 * (`failure` settles to the problem answer when they failed). On such a failure the stored answers are withdrawn,
 * so a retry runs again, and the failure is the answer.
 */
async function settle(
  tables: Services['tables'],
  held: ReservationHandle[],
  response: HttpResponseShape,
  failure?: Promise<HttpResponseShape | undefined>,
): Promise<HttpResponseShape> {
  const [failed, stored] = await Promise.all([
    failure,
    Promise.all(held.map((handle) => completeReservation(tables, handle, response))),
  ]);
  held.length = 0;
  if (!failed) return response;
  await Promise.all(
    stored.filter((h): h is ReservationHandle => h !== undefined).map((h) => releaseReservation(tables, h)),
  );
  return failed;
}
