// A protocol-faithful fake of Partner Center and Entra ID written directly on node:http: it needs exact control of
// status lines, headers, bodies and sockets (resets, truncated JSON), which a framework would only get in the way of.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Counters, CountedRoute } from './counters';
import { entraError, PC_ERRORS, throttled, type SimResponse } from './errors';
import type { FaultDecision, FaultInjector, FaultedRoute } from './faults';
import { BodyTooLargeError, caseInsensitive, header, readBody, writeResponse } from './http';
import { isGuid } from '../../shared/ids';
import type { FleetApi, FleetRoute } from './fleet';
import type { RateLimiter } from './rate-limit';
import type { Caller, TokenAuthority } from './tokens';
import { PRODUCT_FAMILY, type UpgradeStore } from './upgrades';
import type { AdminApi } from './admin';
import type { SimulatorClock } from './clock';

export interface ServerParts {
  clock: SimulatorClock;
  store: UpgradeStore;
  authority: TokenAuthority;
  counters: Counters;
  faults: FaultInjector;
  limiter: RateLimiter;
  admin: AdminApi;
  fleet: FleetApi;
  /** Writes one line per request when set. */
  log?: (line: string) => void;
}

type Route =
  | { kind: 'eligibility' }
  | { kind: 'create' }
  | { kind: 'status'; upgradeId: string }
  | { kind: 'fleet'; fleet: FleetRoute }
  | { kind: 'token'; tenant: string; v1: boolean }
  | { kind: 'authorize'; tenant: string }
  | { kind: 'devicecode'; tenant: string }
  | { kind: 'devicelogin' }
  | { kind: 'admin'; path: string }
  | { kind: 'unknown' };

/** Paths are matched case-insensitively (the docs spell both productUpgrades and productupgrades). */
function matchRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  const lower = path.toLowerCase();
  if (lower === '/_sim' || lower.startsWith('/_sim/'))
    return { kind: 'admin', path: path.slice('/_sim'.length) || '/' };
  if (lower === '/v1/productupgrades/eligibility') return { kind: 'eligibility' };
  if (lower === '/v1/productupgrades') return { kind: 'create' };
  // `/v1/productUpgrades/{id}/status`, and the REST reference's alias without `/status`.
  const status = /^\/v1\/productupgrades\/([^/]+)(?:\/status)?$/.exec(lower);
  if (status) return { kind: 'status', upgradeId: decodeURIComponent(status[1]) };
  // The fleet. No slash is collapsed: a client that requests `/v1//v1/customers` gets the 404 it deserves.
  if (lower === '/v1/customers') return { kind: 'fleet', fleet: { kind: 'customers' } };
  if (lower === '/v1/customers/usagerecords') return { kind: 'fleet', fleet: { kind: 'usageRecords' } };
  const perCustomer = /^\/v1\/customers\/([^/]+)\/(subscriptions|agreements)$/.exec(lower);
  if (perCustomer) {
    const customerId = decodeURIComponent(perCustomer[1]);
    return { kind: 'fleet', fleet: { kind: perCustomer[2] as 'subscriptions' | 'agreements', customerId } };
  }
  const oauth = /^\/([^/]+)\/oauth2\/(v2\.0\/)?(token|authorize|devicecode)$/.exec(lower);
  if (oauth) {
    const tenant = decodeURIComponent(path.split('/')[1]);
    const v1 = oauth[2] === undefined;
    if (oauth[3] === 'token') return { kind: 'token', tenant, v1 };
    if (!v1 && oauth[3] === 'authorize') return { kind: 'authorize', tenant };
    if (!v1 && oauth[3] === 'devicecode') return { kind: 'devicecode', tenant };
  }
  if (lower === '/devicelogin') return { kind: 'devicelogin' };
  return { kind: 'unknown' };
}

function countedRoute(route: Route): CountedRoute {
  switch (route.kind) {
    case 'fleet':
      return route.fleet.kind;
    case 'eligibility':
    case 'create':
    case 'status':
    case 'token':
    case 'authorize':
    case 'devicecode':
      return route.kind;
    default:
      return 'unknown';
  }
}

const NO_FAULT: FaultDecision = {
  malformedJson: false,
  tokenExpiry: false,
  latencyMs: 0,
  retryAfterSeconds: 1,
  omitRetryAfter: false,
};

export function createRequestHandler(parts: ServerParts): (req: IncomingMessage, res: ServerResponse) => void {
  // Like a real front door: one server id per instance, a distinct correlation vector per request (a per-instance
  // random prefix plus a counter: a crypto call per request is measurable at thousands of requests per second).
  const serverId = String(100000000 + (randomBytes(4).readUInt32BE(0) % 900000000));
  const cvPrefix = randomBytes(9).toString('base64url').slice(0, 10);
  let cvCounter = 0;
  const nextCv = (): string => `${cvPrefix}${(cvCounter++ % 2176782336).toString(36).padStart(6, '0')}.0`;

  return (req, res) => {
    handle(parts, serverId, nextCv(), req, res).catch((error: unknown) => {
      parts.log?.(`simulator: internal error ${(error as Error).message}`);
      if (!res.headersSent) writeResponse(res, 500, {}, PC_ERRORS.unexpected().body);
      else res.destroy();
    });
  };
}

async function handle(
  parts: ServerParts,
  serverId: string,
  cv: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const url = new URL(req.url ?? '/', 'http://simulator.local');
  const route = matchRoute(url.pathname);
  const baseHeaders: Record<string, string> = {
    'MS-RequestId': header(req, 'ms-requestid') ?? randomUUID(),
    'MS-CorrelationId': header(req, 'ms-correlationid') ?? randomUUID(),
    'MS-CV': cv,
    'MS-ServerId': serverId,
  };
  const method = req.method ?? 'GET';

  if (route.kind === 'admin') {
    let body: string;
    try {
      body = await readBody(req);
    } catch {
      writeResponse(res, 413, baseHeaders, { error: 'body too large' });
      return;
    }
    const answer = parts.admin.handle(method, route.path, url.searchParams, body);
    writeResponse(res, answer.status, { ...baseHeaders, ...answer.headers }, answer.body);
    return;
  }

  const counted = countedRoute(route);
  const faultRoute: FaultedRoute | undefined =
    route.kind === 'fleet'
      ? route.fleet.kind
      : route.kind === 'eligibility' || route.kind === 'create' || route.kind === 'status' || route.kind === 'token'
        ? route.kind
        : undefined;
  const decision = faultRoute ? parts.faults.decide(faultRoute) : NO_FAULT;

  const finish = async (answer: SimResponse): Promise<void> => {
    if (decision.latencyMs > 0) await delay(decision.latencyMs);
    if (decision.reset === 'after') {
      parts.counters.fault('connectionReset');
      parts.counters.response(counted, 0);
      req.socket.destroy();
      return;
    }
    if (decision.malformedJson && answer.body !== undefined && typeof answer.body !== 'string') {
      parts.counters.fault('malformedJson');
    }
    parts.counters.response(counted, answer.status);
    const headers = { ...baseHeaders, ...answer.headers };
    if (answer.status === 429 && decision.omitRetryAfter) delete headers['Retry-After'];
    writeResponse(res, answer.status, headers, answer.body, decision.malformedJson);
    parts.log?.(
      `${new Date(parts.clock.now()).toISOString()} ${method} ${url.pathname} -> ${answer.status} ` +
        `(${Math.round(performance.now() - started)} ms)`,
    );
  };

  let raw: string;
  try {
    raw = await readBody(req);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return finish(PC_ERRORS.invalidInput('request body too large'));
    throw error;
  }

  // Every request to the token endpoint counts, including those a fault then fails or drops.
  if (route.kind === 'token') parts.counters.tokenRequest(new URLSearchParams(raw).get('grant_type') ?? '');

  if (decision.reset === 'before') {
    parts.counters.fault('connectionReset');
    parts.counters.response(counted, 0);
    req.socket.destroy();
    return;
  }
  if (decision.status) {
    parts.counters.fault(`status${decision.status}`);
    if (decision.status === 429) {
      if (route.kind !== 'token') return finish(throttled(decision.retryAfterSeconds));
      const busy = entraError(
        429,
        'temporarily_unavailable',
        90033,
        'Too many requests. Please try again later.',
        parts.clock.now(),
      );
      return finish({ ...busy, headers: { 'Retry-After': String(decision.retryAfterSeconds) } });
    }
    if (route.kind === 'token') {
      const error = decision.status === 500 ? 'server_error' : 'temporarily_unavailable';
      return finish(
        entraError(
          decision.status,
          error,
          90033,
          'A transient error has occurred. Please try again.',
          parts.clock.now(),
        ),
      );
    }
    const answer =
      decision.status === 500
        ? PC_ERRORS.unexpected()
        : decision.status === 503
          ? PC_ERRORS.busy()
          : PC_ERRORS.timeout();
    return finish(answer);
  }

  switch (route.kind) {
    case 'token':
      if (method !== 'POST') return finish(methodNotAllowedEntra(parts));
      return finish(parts.authority.token(route.tenant, new URLSearchParams(raw), route.v1));
    case 'authorize':
      if (method !== 'GET') return finish(methodNotAllowedEntra(parts));
      return finish(parts.authority.authorize(route.tenant, url.searchParams));
    case 'devicecode':
      if (method !== 'POST') return finish(methodNotAllowedEntra(parts));
      return finish(parts.authority.deviceCode(route.tenant, new URLSearchParams(raw)));
    case 'devicelogin':
      return finish(deviceLogin(parts, method, raw));
    case 'unknown':
      return finish(PC_ERRORS.notFoundRoute());
    default:
      break;
  }

  if (route.kind === 'fleet') {
    // The fleet operations: GET, the same authentication, validation before the rate limit.
    if (method !== 'GET') return finish({ ...PC_ERRORS.methodNotAllowed(), headers: { Allow: 'GET' } });
    const fleetCaller = authorize(parts, req, decision);
    if ('status' in fleetCaller) return finish(fleetCaller);
    const prepared = parts.fleet.prepare({
      route: route.fleet,
      query: url.searchParams,
      continuationToken: header(req, 'ms-continuationtoken'),
      origin: `http://${header(req, 'host') ?? 'simulator.local'}`,
    });
    if ('answer' in prepared) return finish(prepared.answer);
    // Listing is throttled per partner; a customer's subscriptions and agreements per partner + customer.
    const fleetLimit = parts.limiter.take(fleetCaller.tenantId, prepared.customerId);
    if (!fleetLimit.allowed) return finish(throttled(fleetLimit.retryAfterSeconds));
    return finish(prepared.serve());
  }

  // The three Partner Center operations: all POST with a ProductUpgradeRequest body.
  if (method !== 'POST') return finish({ ...PC_ERRORS.methodNotAllowed(), headers: { Allow: 'POST' } });
  const caller = authorize(parts, req, decision);
  if ('status' in caller) return finish(caller);

  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return finish(PC_ERRORS.invalidInput('the request body is not valid JSON'));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return finish(PC_ERRORS.invalidInput('the request body must be a ProductUpgradeRequest object'));
  }
  const field = caseInsensitive(parsed as Record<string, unknown>);
  const customerId = field('customerId');
  const productFamily = field('productFamily');
  if (customerId === undefined || customerId === null) return finish(PC_ERRORS.invalidInput('customerId is required'));
  if (!isGuid(customerId))
    return finish(
      PC_ERRORS.invalidCustomerId(typeof customerId === 'string' ? customerId : JSON.stringify(customerId)),
    );
  if (typeof productFamily !== 'string' || productFamily.toLowerCase() !== PRODUCT_FAMILY.toLowerCase()) {
    return finish(PC_ERRORS.invalidInput(`productFamily '${String(productFamily)}' is not supported; use Azure`));
  }

  const limit = parts.limiter.take(caller.tenantId, customerId);
  if (!limit.allowed) return finish(throttled(limit.retryAfterSeconds));

  switch (route.kind) {
    case 'eligibility':
      return finish(parts.store.eligibility(customerId));
    case 'create': {
      const before = parts.store.upgradeCount;
      const answer = parts.store.create(customerId, header(req, 'ms-requestid'), header(req, 'ms-correlationid'));
      if (parts.store.upgradeCount > before) parts.counters.upgradeCreated();
      return finish(answer);
    }
    case 'status':
      return finish(parts.store.status(route.upgradeId, customerId));
  }
}

/** The bearer token of a Partner Center call: App+User, unexpired, with the MFA claim; else the documented error. */
function authorize(parts: ServerParts, req: IncomingMessage, decision: FaultDecision): Caller | SimResponse {
  const caller = parts.authority.authenticate(header(req, 'authorization'));
  if ('status' in caller) return { ...caller, headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } };
  if (decision.tokenExpiry) {
    parts.counters.fault('tokenExpiry');
    parts.authority.expireAccessToken(header(req, 'authorization'));
    return { ...PC_ERRORS.tokenExpired(), headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } };
  }
  if (caller.appOnly) return PC_ERRORS.appOnly();
  if (!caller.mfa) return PC_ERRORS.mfaRequired();
  return caller;
}

function methodNotAllowedEntra(parts: ServerParts): SimResponse {
  return entraError(405, 'invalid_request', 900561, 'The endpoint only accepts POST requests.', parts.clock.now());
}

/** A minimal sign-in page: enter the user code to "approve" a device-code sign-in. */
function deviceLogin(parts: ServerParts, method: string, raw: string): SimResponse {
  const page = (message: string): SimResponse => ({
    status: 200,
    headers: { 'Content-Type': 'text/html; charset=utf-8' },
    body:
      `<!doctype html><html><body><h1>Partner Center simulator sign-in</h1><p>${message}</p>` +
      `<form method="post"><input name="user_code" placeholder="code"><button>Approve</button></form></body></html>`,
  });
  if (method === 'POST') {
    const userCode = new URLSearchParams(raw).get('user_code') ?? '';
    const ok = parts.authority.approveDeviceCode(userCode.trim());
    return page(ok ? 'Signed in. You can close this window.' : 'Unknown code.');
  }
  return page('Enter the code shown by the application.');
}
