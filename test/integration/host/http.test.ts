import { createHmac } from 'node:crypto';
import { request } from 'node:http';
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
      route: 'upgrades/{upgradeId}',
      handler: async (request) => ({ jsonBody: await record(request) }),
    });
    functions.http('listCustomerUpgrades', {
      methods: ['GET'],
      route: 'customers/{customerId}/upgrades',
      handler: async (request) => ({ jsonBody: await record(request) }),
    });
    functions.http('webhook', {
      methods: ['POST'],
      route: 'hooks/{source}',
      handler: async (request) => {
        const entry = await record(request);
        const signature = createHmac('sha256', 'k').update(Buffer.from(entry.bodyHex, 'hex')).digest('hex');
        return { status: 201, body: signature, headers: { 'webhook-signature': signature } };
      },
    });
    functions.http('byName', {
      methods: ['GET'],
      handler: async () => new HttpResponse({ status: 200, body: Buffer.from([0, 1, 2, 255]) }),
    });
    functions.http('cookies', {
      route: 'cookies',
      handler: () => ({
        status: 200,
        headers: [
          ['set-cookie', 'b=2'],
          ['set-cookie', 'a=1; Path=/; HttpOnly'],
        ],
      }),
    });
    functions.http('cookieObjects', {
      handler: () => ({ status: 200, cookies: [{ name: 'a', value: '1' }] }),
    });
    functions.http('stream', {
      route: 'stream',
      handler: () => ({ body: Readable.from([Buffer.from('chunk-1;'), Buffer.from('chunk-2')]) }),
    });
    functions.http('text', { route: 'text', handler: () => ({ status: 202, body: 'accepted' }) });
    functions.http('boom', {
      route: 'boom',
      handler: () => {
        throw new Error('secret internals at /srv/app.js:42');
      },
    });
    host = await startTestLocalHost({ functions });
  });
  afterAll(async () => host.stop());

  it('routes by template, passing route params as written, query and headers', async () => {
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

  it('matches literal segments case-insensitively', async () => {
    const listed = (await (await fetch(`${host.url}/API/Customers/C-1/UPGRADES`)).json()) as Seen;
    expect(listed.params).toEqual({ customerId: 'C-1' });
  });

  it('answers 404 for unknown routes, paths outside the prefix and a method the route does not take (as the host)', async () => {
    expect((await fetch(`${host.url}/api/nothing-here`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/customers/c-1`)).status).toBe(404);
    expect((await fetch(`${host.url}/health`)).status).toBe(404); // outside the route prefix
    const wrong = await fetch(`${host.url}/api/upgrades/u-1`, { method: 'PUT' });
    expect(wrong.status).toBe(404);
    expect(wrong.headers.get('allow')).toBeNull();
  });

  it('passes the raw body bytes through unchanged (signatures are computed over them)', async () => {
    const body = Buffer.concat([Buffer.from('{"a": 1,  "b":"\u00e9"}\r\n', 'utf8'), Buffer.from([0xff, 0x00, 0xfe])]);
    const response = await fetch(`${host.url}/api/hooks/billing`, { method: 'POST', body });
    const expected = createHmac('sha256', 'k').update(body).digest('hex');
    expect(response.status).toBe(201);
    expect(response.headers.get('webhook-signature')).toBe(expected);
    expect(await response.text()).toBe(expected);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', params: { source: 'billing' }, bodyHex: body.toString('hex') });
  });

  it('uses the function name as the default route and returns binary, streamed and text bodies and set-cookie headers', async () => {
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
    // Cookie objects are not sent: refused loudly rather than dropped.
    expect((await fetch(`${host.url}/api/cookieObjects`)).status).toBe(500);
    expect(await host.logged(/HTTP GET \/api\/cookieObjects: the local host sends no cookie objects/)).toBeDefined();
  });

  it('answers 500 without leaking the error when a handler throws, and logs it with the invocation id', async () => {
    const response = await fetch(`${host.url}/api/boom`);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('');
    const failed = host.logs.find((line) => line.includes("Executed 'Functions.boom' (Failed"));
    expect(failed).toMatch(/Id=[0-9a-f-]{36}, Duration=\d+ms/);
    expect(host.logs.some((line) => line.includes('secret internals'))).toBe(true);
  });

  it('lists the functions on GET /admin/functions as the host does', async () => {
    const list = (await (await fetch(`${host.url}/admin/functions`)).json()) as {
      name: string;
      invoke_url_template?: string;
    }[];
    expect(list.map((f) => f.name)).toEqual([
      'getUpgrade',
      'listCustomerUpgrades',
      'webhook',
      'byName',
      'cookies',
      'cookieObjects',
      'stream',
      'text',
      'boom',
    ]);
    expect(list[1]).toMatchObject({
      language: 'node',
      isDisabled: false,
      invoke_url_template: `${host.url}/api/customers/{customerId}/upgrades`,
      config: { bindings: [{ type: 'httpTrigger', methods: ['GET'] }] },
    });
  });

  it('accepts an HTTP function on the admin run endpoint, whose invocation then fails unrun (it needs a request)', async () => {
    const before = seen.length;
    const run = await fetch(`${host.url}/admin/functions/getUpgrade`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(run.status).toBe(202);
    expect(await host.logged(/Executed 'Functions\.getUpgrade' \(Failed/)).toMatch(/Id=[0-9a-f-]{36}/);
    expect(seen.length).toBe(before);
    const unknown = await fetch(`${host.url}/admin/functions/nope`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(unknown.status).toBe(404);
  });
});

describe('local host: refuses what a web page could send it', () => {
  let host: TestLocalHost;
  let runs = 0;

  /** A request with the Host header a browser sends after DNS rebinding (fetch does not let a caller set Host). */
  const requestWithHost = (
    host: string,
    path: string,
    init: { method?: string; body?: string; contentType?: string } = {},
  ): Promise<{ status: number; contentType: string | undefined; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        `${hostUrl()}${path}`,
        {
          method: init.method ?? 'GET',
          headers: { host, ...(init.contentType ? { 'content-type': init.contentType } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: res.headers['content-type'],
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(init.body);
    });
  const hostUrl = (): string => host.url;

  beforeAll(async () => {
    const functions = new FunctionRegistry();
    functions.http('health', { methods: ['GET'], route: 'health', handler: () => ({ jsonBody: { runs: ++runs } }) });
    functions.timer('pollUpgrades', {
      schedule: '0 0 0 1 1 *',
      handler: () => {
        runs++;
      },
    });
    host = await startTestLocalHost({ functions });
  });
  afterAll(async () => host.stop());

  it('answers only requests addressed to localhost: another Host header gets a 400 naming it, and runs nothing', async () => {
    const page = await requestWithHost(`attacker.example:${host.port}`, '/api/health');
    expect(page.status).toBe(400);
    expect(page.contentType).toBe('application/problem+json');
    expect(JSON.parse(page.body)).toMatchObject({ status: 400, errors: [{ field: 'Host' }] });
    const admin = await requestWithHost(`attacker.example:${host.port}`, '/admin/functions/pollUpgrades', {
      method: 'POST',
      body: '{}',
      contentType: 'application/json',
    });
    expect(admin.status).toBe(400);
    expect(runs).toBe(0);
    expect((await requestWithHost(`127.0.0.1:${host.port}`, '/api/health')).status).toBe(200);
    expect(runs).toBe(1);
  });

  it('runs a function through the admin API only for a JSON body: a form or text/plain post gets 415, as from the host', async () => {
    for (const contentType of ['text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', undefined]) {
      const response = await fetch(`${host.url}/admin/functions/pollUpgrades`, {
        method: 'POST',
        headers: contentType ? { 'content-type': contentType } : {},
        body: contentType ? '{}' : undefined,
      });
      expect(response.status).toBe(415);
      expect(await response.text()).toBe('');
    }
    const notJson = await fetch(`${host.url}/admin/functions/pollUpgrades`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'input=x',
    });
    expect(notJson.status).toBe(400);
    expect(runs).toBe(1);
    const accepted = await fetch(`${host.url}/admin/functions/pollUpgrades`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(accepted.status).toBe(202);
    await host.logged(/Executed 'Functions\.pollUpgrades' \(Succeeded/);
    expect(runs).toBe(2);
  });
});
