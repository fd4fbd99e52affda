import { createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { HttpResponse, type HttpRequest } from '@azure/functions';
import { FunctionRegistry } from '../../../dev/host';
import { startTestLocalHost, type TestLocalHost } from '../../helpers/local-host';

/** What a test handler saw, so the tests can assert on the request the host built. */
interface Seen {
  method: string;
  params: Record<string, string>;
  query: Record<string, string[]>;
  header: string | null;
  bodyHex: string;
}

describe('local host: HTTP functions', () => {
  let host: TestLocalHost;
  const seen: Seen[] = [];

  const record = async (request: HttpRequest): Promise<Seen> => {
    const query: Record<string, string[]> = {};
    for (const key of new Set(request.query.keys())) query[key] = request.query.getAll(key);
    const entry = {
      method: request.method,
      params: { ...request.params },
      query,
      header: request.headers.get('x-test'),
      bodyHex: Buffer.from(await request.arrayBuffer()).toString('hex'),
    };
    seen.push(entry);
    return entry;
  };

  beforeAll(async () => {
    const functions = new FunctionRegistry();
    functions.http('getUpgrade', {
      methods: ['GET', 'DELETE'],
      route: 'upgrades/{upgradeId:guid}',
      handler: async (request) => ({ jsonBody: await record(request) }),
    });
    functions.get('upgradeSummary', {
      route: 'upgrades/summary/{day?}',
      handler: async (request) => ({ jsonBody: await record(request) }),
    });
    functions.post('webhook', {
      route: 'hooks/{source}',
      handler: async (request) => {
        const entry = await record(request);
        const signature = createHmac('sha256', 'k').update(Buffer.from(entry.bodyHex, 'hex')).digest('hex');
        return { status: 201, body: signature, headers: { 'x-signature': signature } };
      },
    });
    functions.get('byName', async () => new HttpResponse({ status: 200, body: Buffer.from([0, 1, 2, 255]) }));
    functions.get('cookies', {
      route: 'cookies',
      handler: () => ({
        status: 200,
        cookies: [{ name: 'a', value: '1', httpOnly: true, path: '/' }],
        headers: { 'set-cookie': 'b=2' },
      }),
    });
    functions.get('stream', {
      route: 'stream',
      handler: () => ({ body: Readable.from([Buffer.from('chunk-1;'), Buffer.from('chunk-2')]) }),
    });
    functions.get('text', { route: 'text', handler: () => ({ status: 202, body: 'accepted' }) });
    functions.get('boom', {
      route: 'boom',
      handler: () => {
        throw new Error('secret internals at /srv/app.js:42');
      },
    });
    host = await startTestLocalHost({ functions });
  });
  afterAll(async () => host.stop());

  it('routes by template and constraint, passing route params, query and headers', async () => {
    const id = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
    const response = await fetch(`${host.url}/api/upgrades/${id}?x=1&x=2&y=z`, { headers: { 'x-test': 'yes' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toEqual({
      method: 'GET',
      params: { upgradeId: id },
      query: { x: ['1', '2'], y: ['z'] },
      header: 'yes',
      bodyHex: '',
    });
  });

  it('prefers literal segments and accepts a missing optional parameter', async () => {
    const bare = (await (await fetch(`${host.url}/api/upgrades/summary`)).json()) as Seen;
    expect(bare.params).toEqual({});
    const withDay = (await (await fetch(`${host.url}/api/UPGRADES/summary/2026-11-21`)).json()) as Seen;
    expect(withDay.params).toEqual({ day: '2026-11-21' });
  });

  it('answers 404 for unknown routes and failed constraints, 405 with Allow for a wrong method', async () => {
    expect((await fetch(`${host.url}/api/nothing-here`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/upgrades/not-a-guid`)).status).toBe(404);
    expect((await fetch(`${host.url}/health`)).status).toBe(404); // outside the route prefix
    const wrong = await fetch(`${host.url}/api/upgrades/3f2504e0-4f89-41d3-9a0c-0305e82c3301`, { method: 'PUT' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, DELETE');
  });

  it('passes the raw body bytes through unchanged (signatures are computed over them)', async () => {
    const body = Buffer.concat([Buffer.from('{"a": 1,  "b":"\u00e9"}\r\n', 'utf8'), Buffer.from([0xff, 0x00, 0xfe])]);
    const response = await fetch(`${host.url}/api/hooks/billing`, { method: 'POST', body });
    const expected = createHmac('sha256', 'k').update(body).digest('hex');
    expect(response.status).toBe(201);
    expect(response.headers.get('x-signature')).toBe(expected);
    expect(await response.text()).toBe(expected);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', params: { source: 'billing' }, bodyHex: body.toString('hex') });
  });

  it('uses the function name as the default route and returns binary, streamed and text bodies and cookies', async () => {
    const binary = await fetch(`${host.url}/api/byName`);
    expect(Buffer.from(await binary.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
    const streamed = await fetch(`${host.url}/api/stream`);
    expect(await streamed.text()).toBe('chunk-1;chunk-2');
    const text = await fetch(`${host.url}/api/text`);
    expect(text.status).toBe(202);
    expect(text.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(await text.text()).toBe('accepted');
    const cookies = await fetch(`${host.url}/api/cookies`);
    expect(cookies.headers.getSetCookie()).toEqual(['b=2', 'a=1; Path=/; HttpOnly']);
  });

  it('answers 500 without leaking the error when a handler throws, and logs it with the invocation id', async () => {
    const response = await fetch(`${host.url}/api/boom`);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('');
    const failed = host.logs.find((line) => line.includes("Executed 'Functions.boom' (Failed"));
    expect(failed).toMatch(/Id=[0-9a-f-]{36}, Duration=\d+ms/);
    expect(host.logs.some((line) => line.includes('secret internals'))).toBe(true);
  });

  it('lists registrations on GET /admin/functions and refuses HTTP functions on the admin run endpoint', async () => {
    const list = (await (await fetch(`${host.url}/admin/functions`)).json()) as { name: string; trigger: string }[];
    expect(list.map((f) => f.name)).toEqual([
      'getUpgrade',
      'upgradeSummary',
      'webhook',
      'byName',
      'cookies',
      'stream',
      'text',
      'boom',
    ]);
    const run = await fetch(`${host.url}/admin/functions/getUpgrade`, { method: 'POST', body: '{}' });
    expect(run.status).toBe(400);
    expect((await fetch(`${host.url}/admin/functions/nope`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
