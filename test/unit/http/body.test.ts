import { MAX_JSON_BODY_BYTES, parseJsonBody, readRawJsonBody, type BodyRequest } from '../../../shared/http/body';
import { validateCustomerUpgradeRequest } from '../../../shared/http/validation';
import { httpRequest } from '../../helpers/functions';

const json = { 'content-type': 'application/json' };

/** The webhook pipeline's two body steps, the bounded read then the parse (a signature check runs between them). */
async function readJsonBody(request: BodyRequest, options: { maxBytes?: number; instance?: string } = {}) {
  const raw = await readRawJsonBody(request, options);
  if (!raw.ok) return raw;
  const parsed = parseJsonBody(raw.raw, options.instance);
  return parsed.ok ? { ok: true as const, raw: raw.raw, json: parsed.json } : parsed;
}

describe('readJsonBody', () => {
  it('returns the raw bytes and the parsed JSON', async () => {
    const result = await readJsonBody(httpRequest({ method: 'POST', headers: json, body: '{"a":1}' }));
    expect(result).toEqual({ ok: true, raw: Buffer.from('{"a":1}'), json: { a: 1 } });
  });

  it('accepts application/json with parameters and +json types', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/merge-patch+json']) {
      const result = await readJsonBody(httpRequest({ method: 'POST', headers: { 'content-type': type }, body: '{}' }));
      expect(result.ok).toBe(true);
    }
  });

  it.each([undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/jsonx'])(
    'answers 415 for content type %s',
    async (type) => {
      const headers: Record<string, string> = type ? { 'content-type': type } : {};
      const result = await readJsonBody(httpRequest({ method: 'POST', headers, body: '{}' }));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.response.status).toBe(415);
    },
  );

  it('answers 413 for a body over the limit, declared or streamed', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(MAX_JSON_BODY_BYTES) });
    const result = await readJsonBody(httpRequest({ method: 'POST', headers: json, body: big }));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.response.status).toBe(413);
      expect(result.response.headers['content-type']).toBe('application/problem+json');
    }
    const declared = await readJsonBody(
      httpRequest({
        method: 'POST',
        headers: { ...json, 'content-length': String(MAX_JSON_BODY_BYTES + 1) },
        body: '{}',
      }),
    );
    expect(declared.ok).toBe(false);
  });

  it('accepts a body of exactly the limit', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(MAX_JSON_BODY_BYTES - 10) });
    expect(body.length).toBe(MAX_JSON_BODY_BYTES);
    expect((await readJsonBody(httpRequest({ method: 'POST', headers: json, body }))).ok).toBe(true);
  });

  it.each([
    ['', 'is required'],
    ['{"customerId":', 'is not valid JSON'],
  ])('answers 400 naming the body for %j', async (body, message) => {
    const result = await readJsonBody(httpRequest({ method: 'POST', headers: json, body }));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.response.status).toBe(400);
      expect(result.response.jsonBody.errors).toEqual([{ field: 'body', message }]);
    }
  });
});

describe('validateCustomerUpgradeRequest', () => {
  const id = '0A1B2C3D-1111-2222-3333-444455556666';

  it('normalizes the customer id and defaults the family to Azure', () => {
    expect(validateCustomerUpgradeRequest({ customerId: id })).toEqual({
      ok: true,
      value: { customerId: id.toLowerCase(), productFamily: 'Azure' },
    });
    expect(validateCustomerUpgradeRequest({ customerId: id, productFamily: 'azure', extra: 1 })).toMatchObject({
      ok: true,
    });
  });

  it.each([
    [null, 'body'],
    [[], 'body'],
    ['x', 'body'],
    [{}, 'customerId'],
    [{ customerId: 42 }, 'customerId'],
    [{ customerId: 'not-a-guid' }, 'customerId'],
    [{ customerId: id, productFamily: 'Office' }, 'productFamily'],
    [{ customerId: id, productFamily: 1 }, 'productFamily'],
  ])('rejects %j naming %s', (body, field) => {
    const result = validateCustomerUpgradeRequest(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((e) => e.field)).toContain(field);
  });

  it('ignores a __proto__ key in parsed JSON', () => {
    const body = JSON.parse(`{"__proto__":{"customerId":"${id}"}}`);
    const result = validateCustomerUpgradeRequest(body);
    expect(result.ok).toBe(false);
    expect(({} as Record<string, unknown>).customerId).toBeUndefined();
  });
});
