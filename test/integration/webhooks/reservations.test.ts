import { randomUUID } from 'node:crypto';
import { Tables } from '../../../shared/storage/tables';
import {
  beginReservation,
  completeReservation,
  expiryKeys,
  releaseReservation,
  reservationKeys,
  RESERVATION_LEASE_MS,
  RESERVATION_RETENTION_MS,
  webhookFingerprint,
  type ReservationRequest,
} from '../../../shared/webhooks/reservations';
import type { HttpResponseShape } from '../../../shared/webhooks/responses';
import { latch } from '../../helpers/latch';

function tablesFor(prefix: string): Tables {
  const connectionString = process.env.AzureWebJobsStorage;
  if (!connectionString) throw new Error('the integration global setup sets AzureWebJobsStorage');
  return new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: prefix });
}

const tables = tablesFor('resv');

/**
 * One request under its webhook-id, as the webhook pipeline runs it: reserve, run the handler when the id is new,
 * store the answer (or release the id for an answer that says "try again", or a throw).
 */
async function deliver(request: ReservationRequest, handler: () => Promise<HttpResponseShape>) {
  const begun = await beginReservation(tables, request);
  if (begun.kind === 'respond') return begun.response;
  let response: HttpResponseShape;
  try {
    response = await handler();
  } catch (error) {
    await releaseReservation(tables, begun.handle, request.now);
    throw error;
  }
  await completeReservation(tables, begun.handle, response, request.now);
  return response;
}

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

const BODY = '{"customerId":"4f3c2b1a-0000-4000-8000-000000000001"}';
const OTHER_BODY = '{"customerId":"4f3c2b1a-0000-4000-8000-000000000002"}';

/** A request with this webhook-id to an endpoint with a body. */
function request(id: string, endpoint = 'upgrades', body = BODY, now?: () => number): ReservationRequest {
  return { id, fingerprint: webhookFingerprint(endpoint, body), now };
}

const eligibility = (): HttpResponseShape => ({
  status: 200,
  headers: { 'content-type': 'application/json', 'x-request-id': 'only-once' },
  jsonBody: { customerId: 'c-1', isEligible: false, reason: 'Customer has no legacy subscription' },
});
const accepted = (upgradeId: string): HttpResponseShape => ({
  status: 202,
  headers: { 'content-type': 'application/json', location: `/api/upgrades/${upgradeId}`, 'x-trace': 'first' },
  jsonBody: { upgradeId, status: 'Pending' },
});

describe('webhook-id reservations on real Table Storage (Azurite)', () => {
  it('answers a repeat with the stored original response, without side effects', async () => {
    const id = randomUUID();
    const handler = counted(eligibility);
    const first = await deliver(request(id, 'eligibility'), handler);
    const repeat = await deliver(request(id, 'eligibility'), handler);
    expect(handler.runs).toBe(1);
    expect(first).toEqual(eligibility());
    expect(repeat).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' },
      jsonBody: eligibility().jsonBody,
    });
  });

  it('replays a stored 4xx answer too, and a text body', async () => {
    const id = randomUUID();
    const handler = counted(() => ({ status: 400, headers: { 'content-type': 'text/plain' }, body: 'bad input' }));
    await deliver(request(id), handler);
    expect(await deliver(request(id), handler)).toEqual({
      status: 400,
      headers: { 'content-type': 'text/plain', 'idempotent-replayed': 'true' },
      body: 'bad input',
    });
    expect(handler.runs).toBe(1);
  });

  it('one namespace: the id used on another endpoint or with another body gets 422, never the stored answer', async () => {
    const id = randomUUID();
    const handler = counted(() => accepted('u-2'));
    await deliver(request(id, 'eligibility'), handler);
    for (const other of [request(id, 'upgrades'), request(id, 'eligibility', OTHER_BODY)]) {
      const refused = await deliver(other, handler);
      expect(refused).toMatchObject({
        status: 422,
        headers: { 'content-type': 'application/problem+json' },
        jsonBody: { type: 'urn:azure-plan-upgrades:problem:webhook-id-reused', status: 422 },
      });
      expect(JSON.stringify(refused)).not.toContain('u-2');
    }
    expect(handler.runs).toBe(1);
  });

  it('answers 409 while the first request is in flight (422 for another request), then its response', async () => {
    const id = randomUUID();
    const started = latch();
    const gate = latch();
    const handler = counted(async () => {
      started.open();
      await gate.promise;
      return eligibility();
    });
    const first = deliver(request(id, 'eligibility'), handler);
    await started.promise;
    expect(await deliver(request(id, 'eligibility'), handler)).toMatchObject({
      status: 409,
      headers: { 'content-type': 'application/problem+json', 'retry-after': expect.stringMatching(/^\d+$/) as unknown },
      jsonBody: { type: 'urn:azure-plan-upgrades:problem:request-in-progress', status: 409 },
    });
    expect((await deliver(request(id, 'upgrades'), handler)).status).toBe(422);
    gate.open();
    expect((await first).status).toBe(200);
    expect((await deliver(request(id, 'eligibility'), handler)).status).toBe(200);
    expect(handler.runs).toBe(1);
  });

  it('of 12 concurrent duplicates exactly one runs; the others get 409 while it runs, then its response', async () => {
    const id = randomUUID();
    const gate = latch();
    const handler = counted(async () => {
      await gate.promise;
      return accepted('u-4');
    });
    // The losers answer at once (they do not wait for the gate); the winner waits.
    const early = arrivals(11);
    const racing = Array.from({ length: 12 }, () => deliver(request(id), handler).then(early.track));
    await early.reached;
    expect(early.answers.filter((r) => r.status === 409)).toHaveLength(11);
    gate.open();
    const results = await Promise.all(racing);
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    expect(handler.runs).toBe(1);
    expect(await deliver(request(id), handler)).toMatchObject({ status: 202, jsonBody: { upgradeId: 'u-4' } });
  });

  it('a reservation whose owner crashed is taken over after the lease, by exactly one of two racers', async () => {
    const id = randomUUID();
    let now = Date.now();
    const clock = () => now;
    const same = request(id, 'upgrades', BODY, clock);
    expect((await beginReservation(tables, same)).kind).toBe('proceed'); // ...and never completes

    now += RESERVATION_LEASE_MS - 1000;
    expect(await beginReservation(tables, same)).toMatchObject({ kind: 'respond', response: { status: 409 } });

    now += 2000;
    // Another request cannot take the id over, even with the holder gone.
    const handler = counted(() => accepted('u-5'));
    const other = await deliver(request(id, 'eligibility', BODY, clock), handler);
    expect(other.status).toBe(422);
    const [a, b] = await Promise.all([deliver(same, handler), deliver(same, handler)]);
    expect(handler.runs).toBe(1);
    // The loser either saw the winner in progress (409) or, if the winner had finished, got its replay.
    const fresh = [a, b].filter((r) => r.status === 202 && !r.headers?.['idempotent-replayed']);
    expect(fresh).toHaveLength(1);
    expect([a, b].every((r) => r.status === 202 || r.status === 409)).toBe(true);
  });

  it('a 5xx answer or a thrown error releases the id: the same request runs again, no other request may', async () => {
    // Before, the row was deleted: a captured eligibility request that failed with 503 could then be replayed
    // against /api/upgrades within the signature's five minutes and start an upgrade.
    const id = randomUUID();
    const failing = counted(() => ({ status: 503, headers: { 'retry-after': '30' }, jsonBody: { title: 'down' } }));
    expect((await deliver(request(id, 'eligibility'), failing)).status).toBe(503);
    const throwing = counted(() => {
      throw new Error('crash before answering');
    });
    await expect(deliver(request(id, 'eligibility'), throwing)).rejects.toThrow('crash before answering');
    const other = counted(() => accepted('u-6'));
    expect((await deliver(request(id, 'upgrades'), other)).status).toBe(422);
    const working = counted(eligibility);
    expect((await deliver(request(id, 'eligibility'), working)).status).toBe(200);
    expect([failing.runs, throwing.runs, other.runs, working.runs]).toEqual([1, 1, 0, 1]);
  });

  it('keeps an id for 72 h, after which it is treated as new (with any request)', async () => {
    const id = randomUUID();
    let now = Date.now();
    const at = (endpoint: string, body: string) => request(id, endpoint, body, () => now);
    const handler = counted(() => accepted('u-7'));
    await deliver(at('upgrades', BODY), handler);
    now += RESERVATION_RETENTION_MS - 1;
    const repeat = await deliver(at('upgrades', BODY), handler);
    expect(repeat.headers?.['idempotent-replayed']).toBe('true');
    expect((await deliver(at('eligibility', BODY), handler)).status).toBe(422);
    expect(handler.runs).toBe(1);
    now += 1;
    await deliver(at('eligibility', OTHER_BODY), handler);
    expect(handler.runs).toBe(2);
  });

  it('handles awkward ids and large responses (split over several properties)', async () => {
    const id = `${'/\\#?%~'.repeat(42)}end`; // 255 characters, most of them escaped: the digest form
    const big = { items: Array.from({ length: 3000 }, (_, i) => ({ i, name: `line item ${i} ✓` })) };
    const handler = counted(() => ({ status: 200, headers: { 'content-type': 'application/json' }, jsonBody: big }));
    await deliver(request(id), handler);
    const replay = await deliver(request(id), handler);
    expect(handler.runs).toBe(1);
    expect(JSON.stringify(big).length).toBeGreaterThan(60_000);
    expect(replay.jsonBody).toEqual(big);
  });
});

describe('the reservation row', () => {
  it('holds the request with a Lease (epoch ms) and an expiry, with its expiry row beside it in one partition', async () => {
    const now = Date.now();
    const sent = request(randomUUID(), 'eligibility', BODY, () => now);
    const begun = await beginReservation(tables, sent);
    if (begun.kind !== 'proceed') throw new Error('expected a fresh reservation');
    const table = await tables.get('webhookIds');
    const keys = reservationKeys(sent.id);
    const row = await table.getEntity<Record<string, unknown>>(keys.partitionKey, keys.rowKey);
    expect(row).toMatchObject({
      state: 'in-progress',
      fingerprint: webhookFingerprint('eligibility', BODY),
      leaseOwner: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      leaseUntil: now + RESERVATION_LEASE_MS,
      expiresAt: now + RESERVATION_RETENTION_MS,
    });
    const expiry = expiryKeys(keys, now + RESERVATION_RETENTION_MS);
    await expect(table.getEntity(expiry.partitionKey, expiry.rowKey)).resolves.toBeDefined();
  });

  it('a stored answer can be withdrawn by its own request only, and the same request then runs again', async () => {
    const sent = request(randomUUID(), 'eligibility');
    const begun = await beginReservation(tables, sent);
    if (begun.kind !== 'proceed') throw new Error('expected a fresh reservation');
    const stored = await completeReservation(tables, begun.handle, { status: 200, jsonBody: { n: 1 } });
    expect(stored).toBeDefined();
    // A stale handle (the in-progress row) no longer owns what is there: nothing is withdrawn.
    await releaseReservation(tables, { ...begun.handle, row: { ...begun.handle.row, leaseOwner: 'someone-else' } });
    expect(await beginReservation(tables, sent)).toMatchObject({
      kind: 'respond',
      response: { status: 200, headers: { 'idempotent-replayed': 'true' } },
    });
    await releaseReservation(tables, stored!);
    expect((await beginReservation(tables, request(sent.id, 'upgrades'))).kind).toBe('respond');
    expect((await beginReservation(tables, sent)).kind).toBe('proceed');
  });
});
