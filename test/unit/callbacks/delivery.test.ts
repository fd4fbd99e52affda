import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { freePort } from '../../../dev/free-port';
import { deliverCallback, type CallbackPayload } from '../../../shared/callbacks/delivery';
import { newSigningSecret } from '../../../shared/webhooks/signing';

const SECRET = newSigningSecret();
const OLD_SECRET = newSigningSecret();

/** Whether the official library verifies what the receiver got, with this secret. */
function verifies(got: Received | undefined, secret: string): boolean {
  try {
    new Webhook(secret).verify(got?.body ?? Buffer.alloc(0), got?.headers as Record<string, string>, {
      jsonParse: false,
    });
    return true;
  } catch {
    return false;
  }
}

const payload: CallbackPayload = {
  eventId: '5b0e7f4e-3a5e-4d3e-9c39-1c0b1f7d2a10',
  event: 'upgrade.completed',
  upgradeId: '9a7c3c2e-6a51-4b8e-8f59-2d4f1c0e7b31',
  customerId: '0d9a2f0e-1f7b-4a36-9f0b-7d8c3b1e2a10',
  status: 'Completed',
  lineItems: [
    {
      sourceProduct: { id: 'MS-AZR-0145P', name: 'Microsoft Azure' },
      targetProduct: { id: 'DZH318Z0BPS6', name: 'Azure plan' },
      status: 'Completed',
      upgradedDate: '2026-11-20T10:00:00Z',
    },
  ],
  completedAt: '2026-11-20T10:00:00Z',
};

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A real loopback receiver whose answer each test sets. */
class Receiver {
  readonly received: Received[] = [];
  answer: (request: IncomingMessage, response: ServerResponse) => void = (_q, s) => s.writeHead(204).end();
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        this.received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
        this.answer(request, response);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/billing/callbacks?code=key-in-query`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('deliverCallback against a local receiver', () => {
  const receiver = new Receiver();
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());
  beforeEach(() => {
    receiver.received.length = 0;
  });

  const deliver = (extra: Partial<Parameters<typeof deliverCallback>[0]> = {}) =>
    deliverCallback({ url: receiver.url, payload, secrets: [SECRET], timeoutMs: 2000, ...extra });

  it('2xx: delivered, signed as Standard Webhooks sign, the event id as webhook-id', async () => {
    receiver.answer = (_q, s) => s.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    const result = await deliver();
    expect(result).toMatchObject({ outcome: 'delivered', status: 200 });
    expect(receiver.received).toHaveLength(1);
    const [got] = receiver.received;
    expect(got?.headers['content-type']).toBe('application/json');
    expect(got?.headers['webhook-id']).toBe(payload.eventId);
    expect(JSON.parse(got?.body.toString('utf8') ?? '')).toEqual(payload);
    expect(verifies(got, SECRET)).toBe(true);
    expect(verifies(got, OLD_SECRET)).toBe(false);
    // The specification's signature, computed by hand: base64 HMAC-SHA256 of "<id>.<timestamp>.<body>".
    const timestamp = Number(got?.headers['webhook-timestamp']);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(60);
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const content = Buffer.concat([Buffer.from(`${payload.eventId}.${timestamp}.`), got?.body ?? Buffer.alloc(0)]);
    expect(got?.headers['webhook-signature']).toBe(`v1,${createHmac('sha256', key).update(content).digest('base64')}`);
    expect(got?.headers).not.toHaveProperty('x-signature');
    expect(got?.headers).not.toHaveProperty('x-event-id');
  });

  it('signs with every secret during a rotation, so a receiver with either verifies', async () => {
    await deliver({ secrets: [SECRET, OLD_SECRET] });
    const [got] = receiver.received;
    expect((got?.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
    expect(verifies(got, OLD_SECRET)).toBe(true);
    expect(verifies(got, SECRET)).toBe(true);
  });

  it.each([400, 401, 404, 410, 422])('%i: rejected, not to be retried', async (status) => {
    receiver.answer = (_q, s) => s.writeHead(status).end('nope');
    expect(await deliver()).toMatchObject({
      outcome: 'rejected',
      status,
      error: expect.stringContaining(`HTTP ${status}`),
    });
  });

  it.each([408, 429, 500, 502, 503])('%i: retry', async (status) => {
    receiver.answer = (_q, s) => s.writeHead(status, { 'retry-after': '1' }).end();
    expect(await deliver()).toMatchObject({ outcome: 'retry', status });
  });

  it('3xx: the redirect is not followed and the callback is rejected with a clear reason', async () => {
    receiver.answer = (q, s) => {
      if (q.url?.startsWith('/elsewhere')) s.writeHead(200).end();
      else s.writeHead(307, { location: '/elsewhere?token=abc' }).end();
    };
    const result = await deliver();
    expect(result).toMatchObject({ outcome: 'rejected', status: 307 });
    expect(result.error).toMatch(/^HTTP 307: redirect to http:\/\/127\.0\.0\.1:\d+\/elsewhere not followed$/);
    expect(receiver.received.map((r) => r.path)).toEqual(['/billing/callbacks?code=key-in-query']);
  });

  it('a receiver that does not answer in time: retry', async () => {
    receiver.answer = () => undefined; // never answers
    const result = await deliver({ timeoutMs: 200 });
    expect(result).toMatchObject({ outcome: 'retry', error: 'no answer within 200 ms' });
    expect(result.status).toBeUndefined();
  });

  it('a refused connection: retry', async () => {
    const port = await freePort();
    const result = await deliver({ url: `http://127.0.0.1:${port}/callbacks` });
    expect(result).toMatchObject({ outcome: 'retry', error: 'network error ECONNREFUSED' });
  });

  it('plain http to a non-loopback host is refused without a request', async () => {
    let called = false;
    const fetchImpl: typeof fetch = () => {
      called = true;
      return Promise.resolve(new Response(null, { status: 200 }));
    };
    const result = await deliver({ url: 'http://billing.example.com/callbacks', fetchImpl });
    expect(result).toMatchObject({ outcome: 'rejected', error: expect.stringContaining('https') });
    expect(called).toBe(false);
  });

  it('never sends unsigned', async () => {
    expect(await deliver({ secrets: [] })).toMatchObject({ outcome: 'rejected' });
    expect(receiver.received).toHaveLength(0);
  });

  it('results never carry the secret or the URL query', async () => {
    receiver.answer = (_q, s) => s.writeHead(400).end(SECRET);
    const results = [await deliver(), await deliver({ timeoutMs: 1, secrets: [SECRET] })];
    for (const result of results) {
      expect(JSON.stringify(result)).not.toContain(SECRET);
      expect(JSON.stringify(result)).not.toContain('key-in-query');
    }
  });
});
