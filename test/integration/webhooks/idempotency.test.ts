import { randomUUID } from 'node:crypto';
import { Tables } from '../../../shared/storage/tables';
import {
  beginIdempotentRequest,
  hashRequestBody,
  IDEMPOTENCY_LEASE_MS,
  IDEMPOTENCY_RETENTION_MS,
  validateIdempotencyKey,
  withIdempotency,
} from '../../../shared/webhooks/idempotency';
import type { HttpResponseShape } from '../../../shared/webhooks/responses';

function tablesFor(prefix: string): Tables {
  const connectionString = process.env.AzureWebJobsStorage;
  if (!connectionString) throw new Error('the integration global setup sets AzureWebJobsStorage');
  return new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: prefix });
}

const tables = tablesFor('idem');
const BODY = '{"customerId":"4f3c2b1a-0000-4000-8000-000000000001"}';

function accepted(upgradeId: string): HttpResponseShape {
  return {
    status: 202,
    headers: { 'content-type': 'application/json', location: `/api/upgrades/${upgradeId}`, 'x-trace': 'first' },
    jsonBody: { upgradeId, status: 'Pending' },
  };
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

describe('Idempotency-Key on real Table Storage (Azurite)', () => {
  it('replays the first response for the same key and body, without running the handler again', async () => {
    const key = randomUUID();
    const handler = counted(() => accepted('u-1'));
    const options = { scope: 'upgrades', key, bodyHash: hashRequestBody(BODY) };
    const first = await withIdempotency(tables, options, handler);
    const second = await withIdempotency(tables, options, handler);
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
    await withIdempotency(tables, { scope: 'upgrades', key, bodyHash: hashRequestBody(BODY) }, handler);
    const other = await withIdempotency(
      tables,
      { scope: 'upgrades', key, bodyHash: hashRequestBody('{"customerId":"someone-else"}') },
      handler,
    );
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
    await withIdempotency(tables, { scope: 'upgrades', key, bodyHash: 'h' }, handler);
    await withIdempotency(tables, { scope: 'other', key, bodyHash: 'h' }, handler);
    await withIdempotency(tables, { scope: 'upgrades', key: undefined, bodyHash: 'h' }, handler);
    await withIdempotency(tables, { scope: 'upgrades', key: undefined, bodyHash: 'h' }, handler);
    expect(handler.runs).toBe(4);
  });

  it('of 12 concurrent duplicates exactly one runs; the others get 409 while it runs, then its response', async () => {
    const key = randomUUID();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const handler = counted(async () => {
      await gate;
      return accepted('u-4');
    });
    const options = { scope: 'upgrades', key, bodyHash: hashRequestBody(BODY) };
    const early: HttpResponseShape[] = [];
    const racing = Array.from({ length: 12 }, () =>
      withIdempotency(tables, options, handler).then((r) => {
        early.push(r);
        return r;
      }),
    );
    // The losers answer at once (they do not wait for the gate); the winner waits.
    for (let i = 0; i < 100 && early.length < 11; i += 1) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    const conflicts = early.filter((r) => r.status === 409);
    expect(early).toHaveLength(11);
    expect(conflicts).toHaveLength(11);
    expect(conflicts[0]).toMatchObject({
      headers: { 'retry-after': expect.stringMatching(/^\d+$/) as unknown },
      jsonBody: { type: 'urn:azure-plan-upgrades:problem:request-in-progress' },
    });
    open();
    const results = await Promise.all(racing);
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    expect(handler.runs).toBe(1);
    expect(await withIdempotency(tables, options, handler)).toMatchObject({
      status: 202,
      jsonBody: { upgradeId: 'u-4' },
    });
  });

  it('a reservation whose owner crashed is taken over after the lease, by exactly one of two racers', async () => {
    const key = randomUUID();
    let now = Date.now();
    const options = { scope: 'upgrades', key, bodyHash: hashRequestBody(BODY), now: () => now };
    const crashed = await beginIdempotentRequest(tables, options);
    expect(crashed.kind).toBe('proceed'); // ...and never completes

    now += IDEMPOTENCY_LEASE_MS - 1000;
    expect(await beginIdempotentRequest(tables, options)).toMatchObject({ kind: 'respond', response: { status: 409 } });

    now += 2000;
    const handler = counted(() => accepted('u-5'));
    const [a, b] = await Promise.all([
      withIdempotency(tables, options, handler),
      withIdempotency(tables, options, handler),
    ]);
    expect(handler.runs).toBe(1);
    // The loser either saw the winner in progress (409) or, if the winner had finished, got its replay.
    const fresh = [a, b].filter((r) => r.status === 202 && !r.headers?.['idempotent-replayed']);
    expect(fresh).toHaveLength(1);
    expect([a, b].every((r) => r.status === 202 || r.status === 409)).toBe(true);
  });

  it('a 5xx answer or a thrown error frees the key, so a retry really runs again', async () => {
    const key = randomUUID();
    const options = { scope: 'upgrades', key, bodyHash: 'h' };
    const failing = counted(() => ({ status: 503, headers: { 'retry-after': '30' }, jsonBody: { title: 'down' } }));
    expect((await withIdempotency(tables, options, failing)).status).toBe(503);
    const throwing = counted(() => {
      throw new Error('crash before answering');
    });
    await expect(withIdempotency(tables, options, throwing)).rejects.toThrow('crash before answering');
    const working = counted(() => accepted('u-6'));
    expect((await withIdempotency(tables, options, working)).status).toBe(202);
    expect([failing.runs, throwing.runs, working.runs]).toEqual([1, 1, 1]);
  });

  it('keeps a key for 72 h, after which it is treated as new', async () => {
    const key = randomUUID();
    let now = Date.now();
    const options = { scope: 'upgrades', key, bodyHash: 'h', now: () => now };
    const handler = counted(() => accepted('u-7'));
    await withIdempotency(tables, options, handler);
    now += IDEMPOTENCY_RETENTION_MS - 1000;
    await withIdempotency(tables, options, handler);
    expect(handler.runs).toBe(1);
    now += 2000;
    await withIdempotency(tables, { ...options, bodyHash: 'another body is fine now' }, handler);
    expect(handler.runs).toBe(2);
  });

  it('handles awkward keys and large responses (split over several properties)', async () => {
    const key = `${'/\\#?%~'.repeat(42)}end`; // 255 characters, most of them escaped: the digest form
    const big = { items: Array.from({ length: 3000 }, (_, i) => ({ i, name: `line item ${i} ✓` })) };
    const handler = counted(() => ({ status: 200, headers: { 'content-type': 'application/json' }, jsonBody: big }));
    await withIdempotency(tables, { scope: 'upgrades', key, bodyHash: 'h' }, handler);
    const replay = await withIdempotency(tables, { scope: 'upgrades', key, bodyHash: 'h' }, handler);
    expect(handler.runs).toBe(1);
    expect(JSON.stringify(big).length).toBeGreaterThan(60_000);
    expect(replay.jsonBody).toEqual(big);
  });

  it('validates keys: 1 to 255 visible ASCII characters', () => {
    expect(validateIdempotencyKey(randomUUID())).toBeUndefined();
    expect(validateIdempotencyKey('')).toMatchObject({ field: 'Idempotency-Key' });
    expect(validateIdempotencyKey('has space')).toBeDefined();
    expect(validateIdempotencyKey('x'.repeat(256))).toBeDefined();
    expect(validateIdempotencyKey('caf\u00e9')).toBeDefined();
  });
});
