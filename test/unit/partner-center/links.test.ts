import fc from 'fast-check';
import {
  LinkError,
  forwardableHeaders,
  nextCursor,
  parsePageCursor,
  resolveLink,
  sameCursor,
} from '../../../shared/partner-center/links';

const ROOT = 'https://api.partnercenter.microsoft.com';
const TOKEN = 'AQAAAA8xNDQzOTEyODA5NzYzNjIzMjgwMCEzNjIzMjc2NjI2MzAxODg1MTI4';

describe('next link resolution', () => {
  it.each([
    // Seen from the service: already starting with /v1 (resolving it against /v1 broke a whole SDK).
    ['/v1/customers?size=500&seekOperation=Next', `${ROOT}/v1/customers?size=500&seekOperation=Next`],
    ['/V1/customers?size=500', `${ROOT}/V1/customers?size=500`],
    // The usage-records example: host-relative without /v1.
    ['/customers/usagerecords?seekOperation=Next', `${ROOT}/v1/customers/usagerecords?seekOperation=Next`],
    ['customers?size=40&seekOperation=Next', `${ROOT}/v1/customers?size=40&seekOperation=Next`],
    [`${ROOT}/v1/customers?seekOperation=Next`, `${ROOT}/v1/customers?seekOperation=Next`],
    // Never a `//` in the path; the query is kept byte for byte; a fragment is dropped.
    ['/v1//customers//usagerecords?x=a//b', `${ROOT}/v1/customers/usagerecords?x=a//b`],
    // A leading `//` is a doubled slash, not another host: the request stays on the API's origin.
    ['//customers?x=1', `${ROOT}/v1/customers?x=1`],
    ['//evil.example/v1/customers', `${ROOT}/v1/evil.example/v1/customers`],
    ['//v1//customers', `${ROOT}/v1/customers`],
    ['/v1?size=5', `${ROOT}/v1?size=5`],
    ['/v1customers', `${ROOT}/v1/v1customers`],
    ['customers#frag', `${ROOT}/v1/customers`],
    // Found by the property below: URL parsing reads `\` as `/`, so the rules must too.
    ['\\', `${ROOT}/v1/`],
    ['\\v1\\customers?size=5', `${ROOT}/v1/customers?size=5`],
  ])('%s → %s', (uri, expected) => {
    if (expected === undefined) {
      expect(() => resolveLink(ROOT, uri)).toThrow(LinkError);
      return;
    }
    expect(resolveLink(ROOT, uri).toString()).toBe(expected);
  });

  it('keeps a path prefix of the API root (a gateway in front of Partner Center)', () => {
    expect(resolveLink('http://127.0.0.1:8080/pc/', '/v1/customers').toString()).toBe(
      'http://127.0.0.1:8080/pc/v1/customers',
    );
    expect(resolveLink('http://127.0.0.1:8080/pc', 'customers').toString()).toBe(
      'http://127.0.0.1:8080/pc/v1/customers',
    );
    expect(() => resolveLink('http://127.0.0.1:8080/pc', '/v1/../../other')).toThrow(LinkError);
  });

  it('refuses another origin (the request carries the bearer token), another scheme, control characters, nothing', () => {
    for (const uri of [
      'https://evil.example/v1/customers',
      'http://api.partnercenter.microsoft.com/v1/customers',
      'https://api.partnercenter.microsoft.com:8443/v1/customers',
      'javascript:alert(1)',
      '/v\n1/customers',
      '/v1/cust\tomers',
      '   ',
    ]) {
      expect(() => resolveLink(ROOT, uri)).toThrow(LinkError);
    }
  });

  const segment = fc.stringMatching(/^[A-Za-z0-9_.~-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
  const slashes = fc.integer({ min: 0, max: 3 }).map((n) => '/'.repeat(n));
  const query = fc.option(fc.stringMatching(/^[A-Za-z0-9=&%+/-]{0,30}$/), { nil: undefined });

  it('property: every relative form of the same path lands on the same URL under /v1, without // in the path', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), slashes, query, (segments, extra, q) => {
        const path = segments.join('/');
        const suffix = q === undefined ? '' : `?${q}`;
        const forms = [`/v1/${path}`, `/${path}`, path, `${extra}/v1${extra}/${path}`, `${ROOT}/v1/${path}`];
        const urls = forms.map((form) => resolveLink(ROOT, `${form}${suffix}`));
        // A path whose first segment is v1 (any case) is read as carrying the /v1 prefix in its two forms without one
        // (`/V1/x`, `V1/x`); the forms with a prefix keep it as a segment after the prefix (`/v1/V1/x`).
        const prefixed = `${ROOT}/v1/${path}${suffix}`;
        const asIs = segments[0].toLowerCase() === 'v1' ? `${ROOT}/${path}${suffix}` : prefixed;
        expect(urls.map(String)).toEqual([prefixed, asIs, asIs, prefixed, prefixed]);
        for (const url of urls) {
          expect(url.origin).toBe(ROOT);
          expect(url.pathname).not.toContain('//');
          expect(url.pathname.toLowerCase().startsWith('/v1/')).toBe(true);
          expect(url.search).toBe(q ? `?${q}` : '');
        }
      }),
    );
  });

  it('property: no input resolves off the API origin or to a path with //', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60, unit: 'binary-ascii' }), (uri) => {
        let url: URL;
        try {
          url = resolveLink(ROOT, uri);
        } catch (error) {
          expect(error).toBeInstanceOf(LinkError);
          return;
        }
        expect(url.origin).toBe(ROOT);
        expect(url.pathname).not.toContain('//');
      }),
    );
  });
});

describe('next cursor', () => {
  const requested = new URL(`${ROOT}/v1/customers?size=500`);

  it('links.next with its headers; none at the end', () => {
    expect(
      nextCursor(
        'customers',
        { nextLink: { uri: '/v1/customers?size=500&seekOperation=Next', headers: { 'MS-ContinuationToken': TOKEN } } },
        requested,
        ROOT,
      ),
    ).toEqual({
      list: 'customers',
      uri: '/v1/customers?size=500&seekOperation=Next',
      headers: { 'MS-ContinuationToken': TOKEN },
    });
    expect(nextCursor('customers', {}, requested, ROOT)).toBeUndefined();
    expect(nextCursor('customers', { continuationToken: '  ' }, requested, ROOT)).toBeUndefined();
  });

  it('a body continuationToken joins the link headers when they lack one, and never replaces one', () => {
    const link = { uri: '/customers?seekOperation=Next', headers: {} };
    expect(nextCursor('customers', { nextLink: link, continuationToken: TOKEN }, requested, ROOT)?.headers).toEqual({
      'MS-ContinuationToken': TOKEN,
    });
    const withHeader = { uri: link.uri, headers: { 'ms-continuationtoken': 'from-link' } };
    expect(
      nextCursor('customers', { nextLink: withHeader, continuationToken: TOKEN }, requested, ROOT)?.headers,
    ).toEqual({ 'ms-continuationtoken': 'from-link' });
  });

  it('a body token alone continues the request just made, with seekOperation=Next', () => {
    expect(nextCursor('customers', { continuationToken: TOKEN }, requested, ROOT)).toEqual({
      list: 'customers',
      uri: '/v1/customers?size=500&seekOperation=Next',
      headers: { 'MS-ContinuationToken': TOKEN },
    });
    const behindGateway = nextCursor(
      'usageRecords',
      { continuationToken: TOKEN },
      new URL('http://127.0.0.1:9/pc/v1/customers/usagerecords?seekOperation=Next'),
      'http://127.0.0.1:9/pc',
    );
    expect(behindGateway?.uri).toBe('/v1/customers/usagerecords?seekOperation=Next');
  });

  it('drops the headers a link may not set, and refuses what could not be followed', () => {
    expect(
      forwardableHeaders({
        Authorization: 'Bearer stolen',
        'MS-RequestId': 'x',
        'MS-CorrelationId': 'y',
        Host: 'evil',
        'MS-ContinuationToken': TOKEN,
        'X-Extra': 'kept',
      }),
    ).toEqual({ 'MS-ContinuationToken': TOKEN, 'X-Extra': 'kept' });
    expect(() => forwardableHeaders({ 'MS-ContinuationToken': 'a\r\nInjected: 1' })).toThrow(LinkError);
    expect(() => forwardableHeaders({ 'bad name': 'x' })).toThrow(LinkError);
    expect(() =>
      nextCursor('customers', { nextLink: { uri: 'https://evil.example/v1/customers', headers: {} } }, requested, ROOT),
    ).toThrow(LinkError);
    expect(() => nextCursor('customers', { continuationToken: 'a\nb' }, requested, ROOT)).toThrow(LinkError);
  });

  it('two cursors fetch the same page when list, uri and headers agree (header names in any case)', () => {
    const a = { list: 'customers' as const, uri: '/v1/customers?x', headers: { 'MS-ContinuationToken': 't' } };
    expect(sameCursor(a, { ...a, headers: { 'ms-continuationtoken': 't' } })).toBe(true);
    expect(sameCursor(a, { ...a, headers: { 'MS-ContinuationToken': 'u' } })).toBe(false);
    expect(sameCursor(a, { ...a, list: 'usageRecords' })).toBe(false);
  });
});

describe('stored cursors', () => {
  const cursor = {
    list: 'customers',
    uri: '/v1/customers?size=500&seekOperation=Next',
    headers: { 'MS-ContinuationToken': TOKEN },
  };

  it('round-trips through JSON', () => {
    expect(parsePageCursor(JSON.parse(JSON.stringify(cursor)))).toEqual(cursor);
  });

  it.each([
    [null, /cursor must be an object/],
    [[], /cursor must be an object/],
    [{ ...cursor, list: 'orders' }, /cursor\.list/],
    [{ ...cursor, uri: '' }, /cursor\.uri/],
    [{ ...cursor, uri: 'x'.repeat(5000) }, /cursor\.uri/],
    [{ ...cursor, headers: 'MS-ContinuationToken: x' }, /cursor\.headers/],
    [{ ...cursor, headers: { 'MS-ContinuationToken': 42 } }, /cursor\.headers/],
    [{ ...cursor, headers: { Authorization: 'Bearer x' } }, /may not set Authorization/],
    [{ ...cursor, headers: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`h${i}`, 'v'])) }, /more than 16/],
  ])('refuses %j', (value, message) => {
    expect(() => parsePageCursor(value)).toThrow(message);
  });
});
