import { randomUUID } from 'node:crypto';
import { Tables } from '../../../shared/storage/tables';
import {
  beginWebhookEvent,
  EVENT_LEASE_MS,
  EVENT_RETENTION_MS,
  validateEventId,
  withEventDedupe,
} from '../../../shared/webhooks/event-dedupe';
import type { HttpResponseShape } from '../../../shared/webhooks/responses';

const connectionString = process.env.AzureWebJobsStorage ?? '';
const tables = new Tables({ storage: { kind: 'connectionString', connectionString }, tableNamePrefix: 'evdd' });

function counted(make: () => HttpResponseShape | Promise<HttpResponseShape>) {
  const handler = async () => {
    handler.runs += 1;
    return make();
  };
  handler.runs = 0;
  return handler;
}

const eligibility = (): HttpResponseShape => ({
  status: 200,
  headers: { 'content-type': 'application/json', 'x-request-id': 'only-once' },
  jsonBody: { customerId: 'c-1', isEligible: false, reason: 'Customer has no legacy subscription' },
});

describe('X-Event-Id dedupe on real Table Storage (Azurite)', () => {
  it('answers a repeat with the stored original response, without side effects', async () => {
    const eventId = randomUUID();
    const handler = counted(eligibility);
    const first = await withEventDedupe(tables, { scope: 'eligibility', eventId }, handler);
    const repeat = await withEventDedupe(tables, { scope: 'eligibility', eventId }, handler);
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
    await withEventDedupe(tables, { scope: 'upgrades', eventId }, handler);
    expect(await withEventDedupe(tables, { scope: 'upgrades', eventId }, handler)).toEqual({
      status: 400,
      headers: { 'content-type': 'text/plain', 'idempotent-replayed': 'true' },
      body: 'bad input',
    });
    expect(handler.runs).toBe(1);
  });

  it('answers 409 while the first delivery is in flight, then its response', async () => {
    const eventId = randomUUID();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const handler = counted(async () => {
      await gate;
      return eligibility();
    });
    const first = withEventDedupe(tables, { scope: 'eligibility', eventId }, handler);
    for (let i = 0; i < 100 && handler.runs === 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    const during = await withEventDedupe(tables, { scope: 'eligibility', eventId }, handler);
    expect(during).toMatchObject({
      status: 409,
      headers: { 'content-type': 'application/problem+json' },
      jsonBody: { type: 'urn:azure-plan-upgrades:problem:request-in-progress', status: 409 },
    });
    open();
    expect((await first).status).toBe(200);
    expect((await withEventDedupe(tables, { scope: 'eligibility', eventId }, handler)).status).toBe(200);
    expect(handler.runs).toBe(1);
  });

  it('of 10 concurrent deliveries of one event exactly one runs', async () => {
    const eventId = randomUUID();
    const handler = counted(async () => {
      await new Promise((r) => setTimeout(r, 100));
      return eligibility();
    });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => withEventDedupe(tables, { scope: 'eligibility', eventId }, handler)),
    );
    expect(handler.runs).toBe(1);
    expect(results.filter((r) => r.status === 200 && !r.headers?.['idempotent-replayed'])).toHaveLength(1);
    expect(results.every((r) => r.status === 200 || r.status === 409)).toBe(true);
  });

  it('keeps an event id at least 72 h; older rows count as absent', async () => {
    const eventId = randomUUID();
    let now = Date.now();
    const handler = counted(eligibility);
    const options = { scope: 'eligibility', eventId, now: () => now };
    await withEventDedupe(tables, options, handler);
    now += EVENT_RETENTION_MS - 1;
    expect((await withEventDedupe(tables, options, handler)).headers?.['idempotent-replayed']).toBe('true');
    now += 1;
    await withEventDedupe(tables, options, handler);
    expect(handler.runs).toBe(2);
  });

  it('a delivery whose handler crashed can be processed after the lease', async () => {
    const eventId = randomUUID();
    let now = Date.now();
    const options = { scope: 'eligibility', eventId, now: () => now };
    expect((await beginWebhookEvent(tables, options)).kind).toBe('proceed');
    now += EVENT_LEASE_MS + 1;
    const handler = counted(eligibility);
    expect((await withEventDedupe(tables, options, handler)).status).toBe(200);
    expect(handler.runs).toBe(1);
  });

  it('a failed delivery (5xx) is not remembered, so the retry is processed', async () => {
    const eventId = randomUUID();
    const down = counted(() => ({ status: 503, headers: { 'retry-after': '30' } }));
    await withEventDedupe(tables, { scope: 'eligibility', eventId }, down);
    const up = counted(eligibility);
    expect((await withEventDedupe(tables, { scope: 'eligibility', eventId }, up)).status).toBe(200);
    expect(up.runs).toBe(1);
  });

  it('without an event id every delivery runs', async () => {
    const handler = counted(eligibility);
    await withEventDedupe(tables, { scope: 'eligibility', eventId: undefined }, handler);
    await withEventDedupe(tables, { scope: 'eligibility', eventId: undefined }, handler);
    expect(handler.runs).toBe(2);
  });

  it('validates event ids', () => {
    expect(validateEventId('evt_1NGx2')).toBeUndefined();
    expect(validateEventId('')).toMatchObject({ field: 'X-Event-Id' });
    expect(validateEventId('a\nb')).toBeDefined();
    expect(validateEventId('e'.repeat(256))).toBeDefined();
  });
});
