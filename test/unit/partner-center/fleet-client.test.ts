import { PartnerCenterClient, type Page, type PageCursor } from '../../../shared/partner-center';
import { CountingCredential, json, loopback, type Handler, type Loopback } from './loopback';
import { failure } from './failure';

/**
 * The customer directory on the wire, for what the simulator does not produce: answers a correct service never
 * gives (a repeated or foreign next link, a code 2000 on a first page, agreements of another type) and checks the
 * client makes before it sends anything. The documented behaviour is tested against the simulator
 * (test/integration/partner-center/fleet.simulator.test.ts).
 */

const A = '0a000000-0000-4000-8000-000000000001';
const B = '0b000000-0000-4000-8000-000000000002';
const TOKEN = 'AQAAAA8xNDQz';

const servers: Loopback[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function clientFor(handler: Handler): Promise<{ client: PartnerCenterClient; server: Loopback }> {
  const server = await loopback(handler);
  servers.push(server);
  const client = new PartnerCenterClient({
    baseUrl: server.url,
    credential: new CountingCredential(),
    applicationName: 'fleet-client-test',
    attemptTimeoutMs: 2000,
    maxAttempts: 3,
    retryDelay: { baseMs: 5, maxMs: 20 },
  });
  return { client, server };
}

const page = (ids: string[], next?: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  totalCount: ids.length,
  items: ids.map((id) => ({ id, companyProfile: { tenantId: id }, relationshipToPartner: 'reseller' })),
  links: next === undefined ? {} : { next },
  ...extra,
});

async function drain<T>(pages: AsyncIterable<Page<T>>): Promise<Page<T>[]> {
  const out: Page<T>[] = [];
  for await (const p of pages) out.push(p);
  return out;
}

describe('paging the service gets wrong', () => {
  it('HTTP 400 code 2000 ends a continuation, but fails a first page; another 400 on a continuation fails', async () => {
    const { client } = await clientFor((_req, res) =>
      json(res, 400, { code: 2000, description: 'All records fetched', data: [], source: 'PartnerFD' }),
    );
    expect(await failure(drain(client.listCustomers()))).toMatchObject({
      status: 400,
      code: 2000,
      category: 'invalid-input',
    });

    let calls = 0;
    const other = await clientFor((_req, res) =>
      calls++ === 0
        ? json(
            res,
            200,
            page([A], {
              uri: '/v1/customers?seekOperation=Next',
              headers: [{ key: 'MS-ContinuationToken', value: TOKEN }],
            }),
          )
        : json(res, 400, { code: 800002, description: 'Invalid continuation token' }),
    );
    const seen: string[] = [];
    const error = await failure(
      (async () => {
        for await (const p of other.client.listCustomers()) seen.push(...p.items.map((c) => c.id));
      })(),
    );
    expect(error).toMatchObject({ status: 400, code: 800002, operation: 'listCustomers' });
    expect(seen).toEqual([A]);
  });

  it('a next link to another origin fails its page before it is yielded; the last cursor still resumes', async () => {
    let evil = true;
    const { client, server } = await clientFor((req, res) => {
      if (req.path.startsWith('/v1/customers?size=500')) {
        return json(
          res,
          200,
          page([A], {
            uri: '/v1/customers?seekOperation=Next&p=2',
            headers: [{ key: 'MS-ContinuationToken', value: 't1' }],
          }),
        );
      }
      const next = evil ? { uri: 'https://evil.example/v1/customers?seekOperation=Next', headers: [] } : undefined;
      return json(res, 200, page([B], next));
    });
    const cursors: PageCursor[] = [];
    const error = await failure(
      (async () => {
        for await (const p of client.listCustomers()) if (p.next) cursors.push(p.next);
      })(),
    );
    expect(error).toMatchObject({ category: 'transient', operation: 'listCustomers' });
    expect(error.description).toMatch(/another origin/);
    expect(server.requests.every((r) => !r.path.includes('evil'))).toBe(true);
    // The page with the bad link was not yielded: the caller's cursor is the one before it, and resuming works.
    expect(cursors).toHaveLength(1);
    evil = false;
    const resumed = await drain(
      client.listCustomers({ resumeFrom: JSON.parse(JSON.stringify(cursors[0])) as PageCursor }),
    );
    expect(resumed.flatMap((p) => p.items.map((c) => c.id))).toEqual([B]);
    expect(server.requests.at(-1)?.headers['ms-continuationtoken']).toBe('t1');
  });

  it('a next link that repeats the page just fetched fails instead of looping', async () => {
    const { client, server } = await clientFor((_req, res) =>
      json(
        res,
        200,
        page([A], {
          uri: '/v1/customers?seekOperation=Next',
          headers: [{ key: 'MS-ContinuationToken', value: 'same' }],
        }),
      ),
    );
    const error = await failure(drain(client.listCustomers()));
    expect(error).toMatchObject({ category: 'transient' });
    expect(error.description).toMatch(/repeats/);
    expect(server.requests).toHaveLength(2);
  });

  it('next-link headers as an object are sent; ones a link may not set are not', async () => {
    const { client, server } = await clientFor((req, res) =>
      req.path.includes('seekOperation')
        ? json(res, 200, page([B]))
        : json(
            res,
            200,
            page([A], {
              uri: 'customers?seekOperation=Next',
              headers: {
                'MS-ContinuationToken': TOKEN,
                'X-Route': 'east',
                Authorization: 'Bearer planted',
                'MS-RequestId': 'planted',
              },
            }),
          ),
    );
    const pages = await drain(client.listCustomers({ pageSize: 10 }));
    expect(pages.map((p) => p.items.map((c) => c.id))).toEqual([[A], [B]]);
    const [first, second] = server.requests;
    expect(first.path).toBe('/v1/customers?size=10');
    expect(second.path).toBe('/v1/customers?seekOperation=Next');
    expect(second.headers).toMatchObject({
      'ms-continuationtoken': TOKEN,
      'x-route': 'east',
      authorization: 'Bearer test-token-2',
    });
    expect(second.headers['ms-requestid']).not.toBe('planted');
    expect(pages[0].next).toEqual({
      list: 'customers',
      uri: 'customers?seekOperation=Next',
      headers: { 'MS-ContinuationToken': TOKEN, 'X-Route': 'east' },
    });
  });

  it('a customer’s subscriptions follow a next link too; agreements of another type never pass for the customer agreement', async () => {
    const { client, server } = await clientFor((req, res) => {
      if (req.path.endsWith('/subscriptions')) {
        return json(res, 200, {
          items: [{ id: 's1', offerId: 'MS-AZR-0145P', status: 'active' }],
          links: {
            next: {
              uri: `/customers/${A}/subscriptions?seekOperation=Next`,
              headers: [{ key: 'MS-ContinuationToken', value: TOKEN }],
            },
          },
        });
      }
      if (req.path.includes('/subscriptions?')) {
        return json(res, 200, {
          items: [
            { id: 'p1', offerId: 'DZH318Z0BPS6:0001:DZH318Z0BML6', status: 'active' },
            { id: 'o1', offerId: 'X', status: 'active' },
          ],
        });
      }
      // A service that ignored agreementType answers the older agreement.
      return json(res, 200, {
        items: [{ type: 'MicrosoftCloudAgreement', dateAgreed: '2020-01-01' }, { dateAgreed: 'no type' }],
      });
    });
    const subs = await client.getCustomerSubscriptions(A.toUpperCase());
    expect(subs.customerId).toBe(A);
    expect(subs.all.map((s) => s.id)).toEqual(['s1', 'p1', 'o1']);
    expect(subs.legacy.map((s) => s.id)).toEqual(['s1']);
    expect(subs.azurePlans.map((s) => s.id)).toEqual(['p1']);
    expect(await client.getCustomerAgreements(A)).toEqual([]);
    expect(server.requests.map((r) => r.path)).toEqual([
      `/v1/customers/${A}/subscriptions`,
      `/v1/customers/${A}/subscriptions?seekOperation=Next`,
      `/v1/customers/${A}/agreements?agreementType=MicrosoftCustomerAgreement`,
    ]);
  });
});

describe('checks before anything is sent', () => {
  it('a customer id that is not a GUID, an MPN id that is not digits, a page size out of range', async () => {
    const { client, server } = await clientFor((_req, res) => json(res, 200, { items: [] }));
    expect(await failure(client.getCustomerSubscriptions('../../productUpgrades'))).toMatchObject({
      category: 'invalid-input',
      status: undefined,
    });
    expect(await failure(client.getCustomerAgreements('x'))).toMatchObject({ category: 'invalid-input' });
    expect(await failure(client.getCustomerSubscriptions(A, { resellerMpnId: '12&size=1' }))).toMatchObject({
      category: 'invalid-input',
    });
    for (const pageSize of [0, 501, 2.5]) {
      const error = await failure(drain(client.listCustomers({ pageSize })));
      expect(error).toMatchObject({ category: 'invalid-input', description: expect.stringMatching(/pageSize/) });
    }
    expect(await failure(drain(client.listUsageRecords({ pageSize: 0 })))).toMatchObject({ category: 'invalid-input' });
    expect(server.requests).toHaveLength(0);
  });

  it('a stored cursor must prove itself: its list, its headers, its origin', async () => {
    const { client, server } = await clientFor((_req, res) => json(res, 200, page([])));
    const cursor: PageCursor = {
      list: 'usageRecords',
      uri: '/v1/customers/usagerecords?seekOperation=Next',
      headers: {},
    };
    expect(await failure(drain(client.listCustomers({ resumeFrom: cursor })))).toMatchObject({
      category: 'invalid-input',
    });
    const planted = { list: 'customers', uri: '/v1/customers', headers: { Authorization: 'Bearer x' } } as PageCursor;
    expect(await failure(drain(client.listCustomers({ resumeFrom: planted })))).toMatchObject({
      category: 'invalid-input',
    });
    const elsewhere: PageCursor = { list: 'customers', uri: 'https://evil.example/v1/customers', headers: {} };
    expect(await failure(drain(client.listCustomers({ resumeFrom: elsewhere })))).toMatchObject({
      category: 'invalid-input',
    });
    expect(server.requests).toHaveLength(0);
  });
});
