import { readRawJsonBody, parseJsonBody, type BodyRequest } from '../http/body';
import { validationProblem } from '../http/problem';
import { validateCustomerUpgradeRequest, type CustomerUpgradeRequest } from '../http/validation';
import { guidFromDigest } from '../ids';
import { getServices, type Services } from '../services';
import {
  authenticateWebhook,
  beginReservation,
  completeReservation,
  releaseReservation,
  WEBHOOK_ID_HEADER,
  webhookFingerprint,
  webhookIdProblem,
  type HttpResponseShape,
  type ReservationHandle,
} from '../webhooks';
import { correlationIdFrom } from './correlation';
import { problemForError, type ErrorContext } from './errors';

/** How long a webhook may spend on Partner Center before answering 503 (the platform cuts responses at 230 s). */
export const WEBHOOK_DEADLINE_MS = 60_000;

/** The POST webhooks, by the route they answer on (bound into each webhook-id's fingerprint). */
export type WebhookEndpoint = 'eligibility' | 'upgrades';

export interface WebhookRequest extends BodyRequest {
  url: string;
}

export interface WebhookCall {
  body: CustomerUpgradeRequest;
  /** MS-CorrelationId for every Partner Center call this request makes. */
  correlationId: string;
  /**
   * A stable MS-RequestId for a create, derived from the request's webhook-id: a retry after a crash sends the same
   * id, and Partner Center answers with the same upgrade instead of creating a second one.
   */
  stableRequestId: string;
  abortSignal: AbortSignal;
}

export interface WebhookOptions {
  endpoint: WebhookEndpoint;
  /** The request path (RFC 9457 `instance` of every problem answer). */
  instance: string;
  correlationId: string;
  log: ErrorContext['log'];
}

/**
 * Problem answers made by the shared webhook steps (signature, webhook-id) do not know the request path; RFC 9457's
 * `instance` is filled in here so every problem names the endpoint that answered.
 */
function withInstance(response: HttpResponseShape, instance: string): HttpResponseShape {
  const body = response.jsonBody as { type?: unknown; instance?: unknown } | undefined;
  if (response.status < 400 || !body || typeof body.type !== 'string' || body.instance !== undefined) return response;
  return { ...response, jsonBody: { ...body, instance } };
}

/**
 * A webhook whose work starts with reads only (no side effect), so that they can run while the request's
 * webhook-id is being reserved: a repeated request discards what `read` found. `write` makes the side effects and
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

/** What a webhook function uses of its invocation (shared/ does not import the Functions library). */
export interface WebhookInvocation {
  traceContext?: { traceParent?: string };
  warn(message: string): void;
  error(message: string): void;
}

/**
 * The HTTP handler of a POST webhook: the app's services and the invocation's correlation id and log, then
 * `runWebhook` with the endpoint's steps (`instance` is the request path, `warn` the invocation's log).
 */
export function webhookFunction<Found>(
  endpoint: WebhookEndpoint,
  steps: (services: Services, instance: string, warn: (message: string) => void) => WebhookHandler<Found>,
): (request: WebhookRequest, context: WebhookInvocation) => Promise<HttpResponseShape> {
  return (request, context) => {
    const services = getServices();
    const warn = (message: string) => context.warn(message);
    const instance = new URL(request.url).pathname;
    return runWebhook(
      services,
      request,
      {
        endpoint,
        instance,
        correlationId: correlationIdFrom(context.traceContext?.traceParent),
        log: (level, message) => context[level](message),
      },
      steps(services, instance, warn),
    );
  };
}

/**
 * Every POST webhook goes through the same steps, in this order: size and media type (413/415, before reading),
 * the raw bytes read once, the webhook-id (400), the signature over those bytes (401; 503 without a usable signing
 * secret), the webhook-id's reservation (replay, 409, or 422 for an id used for another request), JSON and field
 * validation (400), then the handler. Any failure of a dependency on the way becomes a 503 problem, never a 500.
 *
 * Table Storage round trips are overlapped where nothing depends on them: the reservation runs while a handler's
 * read-only first step does (`WebhookSteps`), and the answer is stored for replay while the handler's last side
 * effects land (`WebhookAnswer.landing`).
 */
export async function runWebhook<Found>(
  services: Services,
  request: WebhookRequest,
  options: WebhookOptions,
  handler: WebhookHandler<Found>,
): Promise<HttpResponseShape> {
  return withInstance(await runSteps(services, request, options, handler), options.instance);
}

async function runSteps<Found>(
  services: Services,
  request: WebhookRequest,
  options: WebhookOptions,
  handler: WebhookHandler<Found>,
): Promise<HttpResponseShape> {
  const { instance } = options;
  const errorContext: ErrorContext = { instance, telemetry: services.telemetry, log: options.log };
  const { tables } = services;
  let held: ReservationHandle | undefined;
  try {
    const raw = await readRawJsonBody(request, { instance });
    if (!raw.ok) return raw.response;
    const id = request.headers.get(WEBHOOK_ID_HEADER);
    const idError = webhookIdProblem(id);
    if (idError || id === null) return validationProblem(idError ? [idError] : [], instance);
    const auth = await authenticateWebhook(
      services.secrets,
      services.config.webhookSignatures,
      raw.raw,
      request.headers,
    );
    if (!auth.ok) {
      if (auth.kind === 'unavailable') {
        options.log('error', `${instance}: refused, webhook signatures cannot be checked: ${auth.problem}`);
      } else {
        // The reason only: never a header value, a signature or a secret.
        options.log('warn', `${instance}: signature rejected (${auth.reason})`);
        services.telemetry.event('WebhookSignatureRejected', { reason: auth.reason, endpoint: instance });
      }
      return auth.response;
    }

    const reservation = beginReservation(tables, { id, fingerprint: webhookFingerprint(options.endpoint, raw.raw) });
    const work = startWork(raw.raw, options, handler, id);
    const begun = await reservation;
    if (begun.kind === 'respond') return begun.response;
    held = begun.handle;
    if (!work.ok) return await settle(tables, begun.handle, work.response);

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
    return await settle(tables, begun.handle, answer.response, failure);
  } catch (error) {
    // A dependency failed on the way (the reservation, storing the answer): nothing is kept, the caller retries.
    if (held) await releaseReservation(tables, held).catch(() => undefined);
    return problemForError(error, errorContext);
  }
}

type Work = { ok: true; run: () => Promise<WebhookAnswer> } | { ok: false; response: HttpResponseShape };

/**
 * JSON and field validation (no I/O), then, for a valid body, the call, with the handler's read-only first step
 * started at once. `run` awaits what `read` found: it is called only once the request is known to be new (a repeat
 * discards it).
 */
function startWork<Found>(
  raw: Buffer,
  options: WebhookOptions,
  handler: WebhookHandler<Found>,
  webhookId: string,
): Work {
  const { instance } = options;
  const parsed = parseJsonBody(raw, instance);
  if (!parsed.ok) return parsed;
  const valid = validateCustomerUpgradeRequest(parsed.json);
  if (!valid.ok) return { ok: false, response: validationProblem(valid.errors, instance) };
  const call: WebhookCall = {
    body: valid.value,
    correlationId: options.correlationId,
    stableRequestId: guidFromDigest(`${options.endpoint}|${webhookId}`),
    abortSignal: AbortSignal.timeout(WEBHOOK_DEADLINE_MS),
  };
  if (typeof handler === 'function') return { ok: true, run: async () => ({ response: await handler(call) }) };
  const found = handler.read(call);
  // Awaited later, or never (a repeat): a failure is handled where it is awaited, not reported as unhandled here.
  found.catch(() => undefined);
  return { ok: true, run: async () => handler.write(call, await found) };
}

/**
 * Stores the answer for replay under the request's reservation while the answer's last side effects land
 * (`failure` settles to the problem answer when they failed). On such a failure the stored answer is withdrawn, so a
 * retry runs again, and the failure is the answer.
 */
async function settle(
  tables: Services['tables'],
  handle: ReservationHandle,
  response: HttpResponseShape,
  failure?: Promise<HttpResponseShape | undefined>,
): Promise<HttpResponseShape> {
  const [failed, stored] = await Promise.all([failure, completeReservation(tables, handle, response)]);
  if (!failed) return response;
  if (stored) await releaseReservation(tables, stored);
  return failed;
}
