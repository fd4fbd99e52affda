import { randomUUID } from 'node:crypto';
import { Tables } from '../../../shared/storage/tables';
import {
  beginReservation,
  completeReservation,
  EVENT_IDS,
  fingerprintOf,
  hashRequestBody,
  IDEMPOTENCY_KEYS,
  releaseReservation,
  reservationRowKey,
  RESERVATION_LEASE_MS,
  RESERVATION_RETENTION_MS,
  validateReservationKey,
  withReservation,
  type ReservationRequest,
} from '../../../shared/webhooks/reservations';
import type { HttpResponseShape } from '../../../shared/webhooks/responses';
import { encodeKey } from '../../../shared/tracking/keys';
import { latch } from '../../helpers/latch';

function tablesFor(prefix: string): Tables {
  const connectionString = process.env.AzureWebJobsStorage;
  if (!connectionString) throw new Error('the integration global setup sets AzureWebJobsStorage');
  return new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: prefix });
}

const tables = tablesFor('resv');

/** A handler that counts its runs (the side effect a replay must not repeat). */
function counted(make: () => HttpResponseShape | Promise<HttpResponseShape>) {
  const handler = async () => {
    handler.runs += 1;
    return make();
  };
  handler.runs = 0;
  return handler;
}

/** Collects answers as they arrive and opens a latch when `count` of them have. */
function arrivals(count: number) {
  const answers: HttpResponseShape[] = [];
  const reached = latch();
  return {
    answers,
    reached: reached.promise,
    track: (answer: HttpResponseShape) => {
      answers.push(answer);
      if (answers.length === count) reached.open();
      return answer;
    },
  };
}

describe('X-Event-Id reservations on real Table Storage (Azurite)', () => {
  const eligibility = (): HttpResponseShape => ({
    status: 200,
    headers: { 'content-type': 'application/json', 'x-request-id': 'only-once' },
    jsonBody: { customerId: 'c-1', isEligible: false, reason: 'Customer has no legacy subscription' },
  });
  const event = (eventId: string, scope = 'eligibility', now?: () => number): ReservationRequest => ({
    scope,
    key: eventId,
    fingerprint: fingerprintOf(EVENT_IDS, '{}'),
    now,
  });
  const deliver = (request: ReservationRequest | undefined, handler: () => Promise<HttpResponseShape>) =>
    withReservation(tables, EVENT_IDS, request, handler);

  it('answers a repeat with the stored original response, without side effects', async () => {
    const eventId = randomUUID();
    const handler = counted(eligibility);
    const first = await deliver(event(eventId), handler);
    const repeat = await deliver(event(eventId), handler);
    expect(handler.runs).toBe(1);
    expect(first).toEqual(eligibility());
    expect(repeat).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' },
      jsonBody: eligibility().jsonBody,
    });
  });

  it('replays a stored 4xx answer too, and a text body', async () => {
    const eventId = randomUUID();
    const handler = counted(() => ({ status: 400, headers: { 'content-type': 'text/plain' }, body: 'bad input' }));
    await deliver(event(eventId, 'upgrades'), handler);
    expect(await deliver(event(eventId, 'upgrades'), handler)).toEqual({
      status: 400,
      headers: { 'content-type': 'text/plain', 'idempotent-replayed': 'true' },
      body: 'bad input',
    });
    expect(handler.runs).toBe(1);
  });

  it('answers 409 while the first delivery is in flight, then its response', async () => {
    const eventId = randomUUID();
    const started = latch();
    const gate = latch();
    const handler = counted(async () => {
      started.open();
      await gate.promise;
      return eligibility();
    });
    const first = deliver(event(eventId), handler);
    await started.promise;
    const during = await deliver(event(eventId), handler);
    expect(during).toMatchObject({
      status: 409,
      headers: { 'content-type': 'application/problem+json' },
      jsonBody: { type: 'urn:azure-plan-upgrades:problem:request-in-progress', status: 409 },
    });
    gate.open();
    expect((await first).status).toBe(200);
    expect((await deliver(event(eventId), handler)).status).toBe(200);
    expect(handler.runs).toBe(1);
  });

  it('of 10 concurrent deliveries of one event exactly one runs', async () => {
    const eventId = randomUUID();
    const gate = latch();
    const handler = counted(async () => {
      await gate.promise;
      return eligibility();
    });
    // The winner answers only once the nine others have.
    const early = arrivals(9);
    const racing = Array.from({ length: 10 }, () => deliver(event(eventId), handler).then(early.track));
    await early.reached;
    gate.open();
    const results = await Promise.all(racing);
    expect(handler.runs).toBe(1);
    expect(results.filter((r) => r.status === 200 && !r.headers?.['idempotent-replayed'])).toHaveLength(1);
    expect(results.every((r) => r.status === 200 || r.status === 409)).toBe(true);
  });

  it('keeps an event id at least 72 h; older rows count as absent', async () => {
    const eventId = randomUUID();
    let now = Date.now();
    const handler = counted(eligibility);
    const request = event(eventId, 'eligibility', () => now);
    await deliver(request, handler);
    now += RESERVATION_RETENTION_MS - 1;
    expect((await deliver(request, handler)).headers?.['idempotent-replayed']).toBe('true');
    now += 1;
    await deliver(request, handler);
    expect(handler.runs).toBe(2);
  });

  it('a delivery whose handler crashed can be processed after the lease', async () => {
    const eventId = randomUUID();
    let now = Date.now();
    const request = event(eventId, 'eligibility', () => now);
    expect((await beginReservation(tables, EVENT_IDS, request)).kind).toBe('proceed');
    now += RESERVATION_LEASE_MS + 1;
    const handler = counted(eligibility);
    expect((await deliver(request, handler)).status).toBe(200);
    expect(handler.runs).toBe(1);
  });

  it('a failed delivery (5xx) is not remembered, so the retry is processed', async () => {
    const eventId = randomUUID();
    const down = counted(() => ({ status: 503, headers: { 'retry-after': '30' } }));
    await deliver(event(eventId), down);
    const up = counted(eligibility);
    expect((await deliver(event(eventId), up)).status).toBe(200);
    expect(up.runs).toBe(1);
  });

  it('without an event id every delivery runs', async () => {
    const handler = counted(eligibility);
    await deliver(undefined, handler);
    await deliver(undefined, handler);
    expect(handler.runs).toBe(2);
  });

  it('validates event ids', () => {
    expect(validateReservationKey(EVENT_IDS, 'evt_1NGx2')).toBeUndefined();
    expect(validateReservationKey(EVENT_IDS, '')).toMatchObject({ field: 'X-Event-Id' });
    expect(validateReservationKey(EVENT_IDS, 'a\nb')).toBeDefined();
    expect(validateReservationKey(EVENT_IDS, 'e'.repeat(256))).toBeDefined();
  });
});

describe('Idempotency-Key reservations on real Table Storage (Azurite)', () => {
  const BODY = '{"customerId":"4f3c2b1a-0000-4000-8000-000000000001"}';
  const accepted = (upgradeId: string): HttpResponseShape => ({
    status: 202,
    headers: { 'content-type': 'application/json', location: `/api/upgrades/${upgradeId}`, 'x-trace': 'first' },
    jsonBody: { upgradeId, status: 'Pending' },
  });
  const keyed = (key: string, body = BODY, now?: () => number, scope = 'upgrades'): ReservationRequest => ({
    scope,
    key,
    fingerprint: fingerprintOf(IDEMPOTENCY_KEYS, body),
    now,
  });
  const send = (request: ReservationRequest | undefined, handler: () => Promise<HttpResponseShape>) =>
    withReservation(tables, IDEMPOTENCY_KEYS, request, handler);

  it('binds a key to the SHA-256 of the raw body', () => {
    expect(fingerprintOf(IDEMPOTENCY_KEYS, BODY)).toBe(hashRequestBody(Buffer.from(BODY)));
    expect(fingerprintOf(IDEMPOTENCY_KEYS, BODY)).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintOf(EVENT_IDS, BODY)).toBe('');
  });

  it('replays the first response for the same key and body, without running the handler again', async () => {
    const key = randomUUID();
    const handler = counted(() => accepted('u-1'));
    const first = await send(keyed(key), handler);
    const second = await send(keyed(key), handler);
    expect(handler.runs).toBe(1);
    expect(first).toEqual(accepted('u-1'));
    expect(second).toEqual({
      status: 202,
      headers: { 'content-type': 'application/json', location: '/api/upgrades/u-1', 'idempotent-replayed': 'true' },
      jsonBody: { upgradeId: 'u-1', status: 'Pending' },
    });
  });

  it('answers 422 for the same key with another body', async () => {
    const key = randomUUID();
    const handler = counted(() => accepted('u-2'));
    await send(keyed(key), handler);
    const other = await send(keyed(key, '{"customerId":"someone-else"}'), handler);
    expect(handler.runs).toBe(1);
    expect(other).toMatchObject({
      status: 422,
      headers: { 'content-type': 'application/problem+json' },
      jsonBody: { type: 'urn:azure-plan-upgrades:problem:idempotency-key-reused', status: 422 },
    });
  });

  it('keys are per scope, and absent keys do not dedupe', async () => {
    const key = randomUUID();
    const handler = counted(() => accepted('u-3'));
    await send(keyed(key, 'h'), handler);
    await send(keyed(key, 'h', undefined, 'other'), handler);
    await send(undefined, handler);
    await send(undefined, handler);
    expect(handler.runs).toBe(4);
  });

  it('of 12 concurrent duplicates exactly one runs; the others get 409 while it runs, then its response', async () => {
    const key = randomUUID();
    const gate = latch();
    const handler = counted(async () => {
      await gate.promise;
      return accepted('u-4');
    });
    // The losers answer at once (they do not wait for the gate); the winner waits.
    const early = arrivals(11);
    const racing = Array.from({ length: 12 }, () => send(keyed(key), handler).then(early.track));
    await early.reached;
    const conflicts = early.answers.filter((r) => r.status === 409);
    expect(early.answers).toHaveLength(11);
    expect(conflicts).toHaveLength(11);
    expect(conflicts[0]).toMatchObject({
      headers: { 'retry-after': expect.stringMatching(/^\d+$/) as unknown },
      jsonBody: { type: 'urn:azure-plan-upgrades:problem:request-in-progress' },
    });
    gate.open();
    const results = await Promise.all(racing);
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    expect(handler.runs).toBe(1);
    expect(await send(keyed(key), handler)).toMatchObject({ status: 202, jsonBody: { upgradeId: 'u-4' } });
  });

  it('a reservation whose owner crashed is taken over after the lease, by exactly one of two racers', async () => {
    const key = randomUUID();
    let now = Date.now();
    const request = keyed(key, BODY, () => now);
    const crashed = await beginReservation(tables, IDEMPOTENCY_KEYS, request);
    expect(crashed.kind).toBe('proceed'); // ...and never completes

    now += RESERVATION_LEASE_MS - 1000;
    expect(await beginReservation(tables, IDEMPOTENCY_KEYS, request)).toMatchObject({
      kind: 'respond',
      response: { status: 409 },
    });

    now += 2000;
    const handler = counted(() => accepted('u-5'));
    const [a, b] = await Promise.all([send(request, handler), send(request, handler)]);
    expect(handler.runs).toBe(1);
    // The loser either saw the winner in progress (409) or, if the winner had finished, got its replay.
    const fresh = [a, b].filter((r) => r.status === 202 && !r.headers?.['idempotent-replayed']);
    expect(fresh).toHaveLength(1);
    expect([a, b].every((r) => r.status === 202 || r.status === 409)).toBe(true);
  });

  it('a 5xx answer or a thrown error frees the key, so a retry really runs again', async () => {
    const key = randomUUID();
    const request = keyed(key, 'h');
    const failing = counted(() => ({ status: 503, headers: { 'retry-after': '30' }, jsonBody: { title: 'down' } }));
    expect((await send(request, failing)).status).toBe(503);
    const throwing = counted(() => {
      throw new Error('crash before answering');
    });
    await expect(send(request, throwing)).rejects.toThrow('crash before answering');
    const working = counted(() => accepted('u-6'));
    expect((await send(request, working)).status).toBe(202);
    expect([failing.runs, throwing.runs, working.runs]).toEqual([1, 1, 1]);
  });

  it('keeps a key for 72 h, after which it is treated as new', async () => {
    const key = randomUUID();
    let now = Date.now();
    const handler = counted(() => accepted('u-7'));
    await send(
      keyed(key, 'h', () => now),
      handler,
    );
    now += RESERVATION_RETENTION_MS - 1000;
    await send(
      keyed(key, 'h', () => now),
      handler,
    );
    expect(handler.runs).toBe(1);
    now += 2000;
    await send(
      keyed(key, 'another body is fine now', () => now),
      handler,
    );
    expect(handler.runs).toBe(2);
  });

  it('handles awkward keys and large responses (split over several properties)', async () => {
    const key = `${'/\\#?%~'.repeat(42)}end`; // 255 characters, most of them escaped: the digest form
    const big = { items: Array.from({ length: 3000 }, (_, i) => ({ i, name: `line item ${i} ✓` })) };
    const handler = counted(() => ({ status: 200, headers: { 'content-type': 'application/json' }, jsonBody: big }));
    await send(keyed(key, 'h'), handler);
    const replay = await send(keyed(key, 'h'), handler);
    expect(handler.runs).toBe(1);
    expect(JSON.stringify(big).length).toBeGreaterThan(60_000);
    expect(replay.jsonBody).toEqual(big);
  });

  it('validates keys: 1 to 255 visible ASCII characters', () => {
    expect(validateReservationKey(IDEMPOTENCY_KEYS, randomUUID())).toBeUndefined();
    expect(validateReservationKey(IDEMPOTENCY_KEYS, '')).toMatchObject({ field: 'Idempotency-Key' });
    expect(validateReservationKey(IDEMPOTENCY_KEYS, 'has space')).toBeDefined();
    expect(validateReservationKey(IDEMPOTENCY_KEYS, 'x'.repeat(256))).toBeDefined();
    expect(validateReservationKey(IDEMPOTENCY_KEYS, 'caf\u00e9')).toBeDefined();
  });
});

describe('the reservation row', () => {
  it('holds the request with a Lease (leaseOwner, leaseUntil in epoch ms) and an expiry in epoch ms', async () => {
    const now = Date.now();
    const request: ReservationRequest = { scope: 'eligibility', key: randomUUID(), fingerprint: '', now: () => now };
    const begun = await beginReservation(tables, EVENT_IDS, request);
    if (begun.kind !== 'proceed') throw new Error('expected a fresh reservation');
    const table = await tables.get('webhookEvents');
    const row = await table.getEntity<Record<string, unknown>>(
      encodeKey('eligibility'),
      reservationRowKey(request.key),
    );
    expect(row).toMatchObject({
      state: 'in-progress',
      leaseOwner: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      leaseUntil: now + RESERVATION_LEASE_MS,
      expiresAt: now + RESERVATION_RETENTION_MS,
    });
  });

  it('a stored answer can be withdrawn by its own request only, and the next delivery then runs again', async () => {
    const request: ReservationRequest = { scope: 'eligibility', key: randomUUID(), fingerprint: '' };
    const begun = await beginReservation(tables, EVENT_IDS, request);
    if (begun.kind !== 'proceed') throw new Error('expected a fresh reservation');
    const stored = await completeReservation(tables, begun.handle, { status: 200, jsonBody: { n: 1 } });
    expect(stored).toBeDefined();
    // A stale handle (the in-progress row) no longer owns what is there: nothing is deleted.
    await releaseReservation(tables, { ...begun.handle, row: { ...begun.handle.row, leaseOwner: 'someone-else' } });
    expect(await beginReservation(tables, EVENT_IDS, request)).toMatchObject({
      kind: 'respond',
      response: { status: 200, headers: { 'idempotent-replayed': 'true' } },
    });
    await releaseReservation(tables, stored!);
    expect((await beginReservation(tables, EVENT_IDS, request)).kind).toBe('proceed');
  });
});
