import { createHttpHeaders, createPipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import {
  PartnerCenterError,
  categorize,
  errorCategory,
  errorFromResponse,
  isRetryableError,
  parseErrorBody,
} from '../../../shared/partner-center/errors';
import { toCorrelationId, upgradeIdFromLocation } from '../../../shared/partner-center/ids';
import { redact, snippet } from '../../../shared/partner-center/redact';
import { retryAfterMs } from '../../../shared/partner-center/retry-after';
import { normalizeStatus, readEligibility, readStatus } from '../../../shared/partner-center/wire';

const ID = '42d075a4-bfe7-43e7-af6d-7c68a57edcb4';

function response(status: number, body: string | undefined, headers: Record<string, string> = {}): PipelineResponse {
  return {
    status,
    headers: createHttpHeaders(headers),
    bodyAsText: body,
    request: createPipelineRequest({ url: 'http://127.0.0.1/v1/productUpgrades' }),
  };
}

describe('upgrade id from Location', () => {
  it.each([
    [`productUpgrades/${ID}`, ID],
    [`/v1/productUpgrades/${ID}`, ID],
    [`https://api.partnercenter.microsoft.com/v1/productupgrades/${ID.toUpperCase()}`, ID],
    [`productUpgrades/${ID}/status`, ID],
    [`productUpgrades/${ID}?x=1`, ID],
  ])('%s → the GUID', (location, expected) => {
    expect(upgradeIdFromLocation(location)).toBe(expected);
  });

  it.each([[undefined], [''], ['productUpgrades/'], ['productUpgrades/not-a-guid'], ['productUpgrades/12345']])(
    '%s → none',
    (location) => {
      expect(upgradeIdFromLocation(location)).toBeUndefined();
    },
  );
});

describe('correlation id', () => {
  it('keeps a GUID, dashes a 32-hex trace id, replaces anything else', () => {
    expect(toCorrelationId(ID)).toBe(ID);
    expect(toCorrelationId('0af7651916cd43dd8448eb211c80319c')).toBe('0af76519-16cd-43dd-8448-eb211c80319c');
    const replaced = toCorrelationId('not a guid');
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
    expect(toCorrelationId(undefined)).not.toBe(toCorrelationId(undefined));
  });
});

describe('error bodies', () => {
  it('reads the standard body, with code as number or string', () => {
    expect(parseErrorBody('{"code":900106,"description":"No upgrade","data":[],"source":"PartnerFD"}')).toEqual({
      code: 900106,
      description: 'No upgrade',
    });
    expect(parseErrorBody('{"code":"900118","description":"Invalid customer id"}').code).toBe(900118);
    expect(parseErrorBody('{"Code":900110,"Description":"done"}')).toEqual({ code: 900110, description: 'done' });
  });

  it('reads the 429 body and takes Retry-After from the header, else from the message', () => {
    const body = '{"statusCode":429,"message":"Rate limit is exceeded. Try again in 57 seconds."}';
    const withHeader = errorFromResponse('checkEligibility', response(429, body, { 'Retry-After': '3' }));
    expect(withHeader).toMatchObject({ status: 429, category: 'throttled', retryAfterMs: 3000, code: undefined });
    expect(withHeader.description).toContain('Rate limit is exceeded');
    expect(errorFromResponse('checkEligibility', response(429, body)).retryAfterMs).toBe(57_000);
  });

  it('gives a useful error for a non-JSON body, without secrets', () => {
    const html = '<html><body>502 Bad Gateway from proxy; Authorization: Bearer abcdefghijklmnop.qrstu</body></html>';
    const error = errorFromResponse('getUpgradeStatus', response(502, html, { 'MS-RequestId': ID }));
    expect(error).toBeInstanceOf(PartnerCenterError);
    expect(error).toMatchObject({ status: 502, category: 'transient', requestId: ID, code: undefined });
    expect(error.message).toContain('502 Bad Gateway');
    expect(error.message).not.toContain('abcdefghijklmnop');
    expect(errorFromResponse('x', response(500, '')).description).toBe('empty error body');
  });

  it('carries the ids Microsoft support asks for, and the existing upgrade id of an in-progress conflict', () => {
    const body = JSON.stringify({ code: 900109, description: `An upgrade is already in progress. Upgrade id: ${ID}.` });
    const error = errorFromResponse(
      'createUpgrade',
      response(409, body, { 'MS-RequestId': 'r', 'MS-CorrelationId': 'c', 'MS-CV': 'cv.0', 'MS-ServerId': 's' }),
    );
    expect(error).toMatchObject({
      category: 'conflict',
      code: 900109,
      requestId: 'r',
      correlationId: 'c',
      cv: 'cv.0',
      serverId: 's',
      existingUpgradeId: ID,
      retryable: false,
    });
    expect(error.message).toContain('MS-RequestId r');
  });
});

describe('categories', () => {
  it.each([
    [403, 900105, 'business-rule'],
    [404, 900106, 'not-found'],
    [400, 900107, 'invalid-input'],
    [403, 900108, 'business-rule'],
    [409, 900109, 'conflict'],
    [400, 900110, 'conflict'],
    [400, 900111, 'business-rule'],
    [409, 900112, 'conflict'],
    [409, 900113, 'conflict'],
    [409, 900114, 'conflict'],
    [400, 900118, 'invalid-input'],
    [403, 900119, 'business-rule'],
    [403, 900120, 'business-rule'],
    [403, 900130, 'business-rule'],
    [403, 20002, 'business-rule'],
    [401, 800001, 'auth'],
    [400, 800002, 'invalid-input'],
    [401, 900421, 'auth'],
    [403, 900329, 'auth'],
    [500, 800003, 'transient'],
    [503, undefined, 'transient'],
    [408, undefined, 'transient'],
    [429, undefined, 'throttled'],
    [401, undefined, 'auth'],
    [403, undefined, 'auth'],
    [404, undefined, 'not-found'],
    [409, undefined, 'conflict'],
    [400, undefined, 'invalid-input'],
  ] as const)('HTTP %s code %s → %s', (status, code, category) => {
    expect(categorize(status, code)).toBe(category);
  });

  it('429 and 5xx win over any code', () => {
    expect(categorize(429, 900106)).toBe('throttled');
    expect(categorize(503, 900118)).toBe('transient');
    expect(categorize(408, 900110)).toBe('transient');
  });

  it('errorCategory/isRetryableError read client and credential errors alike', () => {
    const credentialLike = Object.assign(new Error('x'), { category: 'auth' });
    expect(errorCategory(credentialLike)).toBe('auth');
    expect(isRetryableError(credentialLike)).toBe(false);
    expect(isRetryableError(new PartnerCenterError({ operation: 'x', status: 429, description: 'd' }))).toBe(true);
    expect(errorCategory(new Error('plain'))).toBeUndefined();
    expect(errorCategory(Object.assign(new Error('x'), { category: 'bogus' }))).toBeUndefined();
  });
});

describe('Retry-After', () => {
  it('reads seconds, an HTTP date and retry-after-ms', () => {
    expect(retryAfterMs(createHttpHeaders({ 'Retry-After': '2' }))).toBe(2000);
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(retryAfterMs(createHttpHeaders({ 'Retry-After': 'Thu, 01 Jan 2026 00:00:05 GMT' }), undefined, now)).toBe(
      5000,
    );
    expect(retryAfterMs(createHttpHeaders({ 'retry-after-ms': '150', 'Retry-After': '9' }))).toBe(150);
    expect(retryAfterMs(createHttpHeaders({}))).toBeUndefined();
    expect(retryAfterMs(createHttpHeaders({ 'Retry-After': 'soon' }))).toBeUndefined();
  });
});

describe('redaction', () => {
  it('masks JWTs, bearer values and secret form fields', () => {
    const text =
      'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc Bearer s3cr3tvalue123 refresh_token=0.AXYZabcdefghijklmnopqrstu&client_secret=shh';
    const cleaned = redact(text);
    expect(cleaned).not.toMatch(/eyJhbGci|s3cr3tvalue123|0\.AXYZ|shh/);
    expect(snippet('a'.repeat(500), 10)).toBe(`${'a'.repeat(10)}…`);
  });
});

describe('tolerant reading', () => {
  const request = { customerId: ID, productFamily: 'Azure' };

  it('reads eligibility, ignoring unknown fields and accepting PascalCase and string booleans', () => {
    expect(
      readEligibility('{"customerId":"c","productFamily":"Azure","isEligible":true,"extra":{"x":1}}', request),
    ).toEqual({
      customerId: 'c',
      productFamily: 'Azure',
      isEligible: true,
    });
    expect(readEligibility(`{"IsEligible":"False","Reason":"suspended","UpgradeId":"${ID}"}`, request)).toEqual({
      customerId: ID,
      productFamily: 'Azure',
      isEligible: false,
      reason: 'suspended',
      upgradeId: ID,
    });
    expect(() => readEligibility('{"customerId":"c"}', request)).toThrow(/isEligible/);
    expect(() => readEligibility('not json', request)).toThrow(/not a JSON object/);
  });

  it('takes an upgrade id only as a GUID (lower-cased): anything else makes the answer unreadable', () => {
    const eligibility = (upgradeId: unknown) =>
      readEligibility(JSON.stringify({ isEligible: false, upgradeId }), request).upgradeId;
    expect(eligibility(ID.toUpperCase())).toBe(ID);
    for (const absent of [null, '', undefined]) expect(eligibility(absent)).toBeUndefined();
    for (const bad of ['../../admin', `${ID}/x`, `${ID}\r\nSet-Cookie: a=b`, 'not-a-guid', 42, { id: ID }]) {
      expect(() => eligibility(bad)).toThrow(/eligibility: upgradeId is not a GUID/);
    }
    const status = (id: unknown) =>
      readStatus(JSON.stringify({ id, status: 'Pending' }), { upgradeId: ID, productFamily: 'Azure' }).upgradeId;
    expect(status(ID.toUpperCase())).toBe(ID);
    expect(status(undefined)).toBe(ID);
    expect(() => status('https://evil.example/')).toThrow(/status: id is not a GUID/);
  });

  it('normalizes statuses case-insensitively and keeps unknown ones, not terminal', () => {
    expect(normalizeStatus('completed')).toBe('Completed');
    expect(normalizeStatus('IN_PROGRESS')).toBe('InProgress');
    expect(normalizeStatus('Canceled')).toBe('Cancelled');
    expect(normalizeStatus('Cancelled')).toBe('Cancelled');
    expect(normalizeStatus('Quarantined')).toBe('Unknown');
    const unknown = readStatus(`{"id":"${ID}","status":"Quarantined","productFamily":"Azure","lineItems":[]}`, {
      upgradeId: ID,
      productFamily: 'Azure',
    });
    expect(unknown).toMatchObject({ rawStatus: 'Quarantined', status: 'Unknown', isTerminal: false });
  });

  it('reads the documented status example, errorDetails.description or .message', () => {
    const body = {
      id: ID,
      status: 'Failed',
      productFamily: 'Azure',
      errorDetails: { code: 'E1', message: 'top-level message' },
      lineItems: [
        {
          sourceProduct: { id: 'b1', name: 'AzureSubscription' },
          targetProduct: { id: 'd2', name: 'Microsoft Azure plan' },
          upgradedDate: '2019-08-29T23:47:28.8524555Z',
          status: 'Completed',
        },
        {
          sourceProduct: { id: 'b3', name: 'AzureSubscription' },
          status: 'FAILED',
          errorDetails: { code: 42, description: 'd' },
        },
      ],
    };
    const result = readStatus(JSON.stringify(body), { upgradeId: ID, productFamily: 'Azure' });
    expect(result).toMatchObject({ upgradeId: ID, rawStatus: 'Failed', status: 'Failed', isTerminal: true });
    expect(result.errorDetails).toEqual({ code: 'E1', description: 'top-level message' });
    expect(result.lineItems[0]).toEqual(body.lineItems[0]);
    expect(result.lineItems[1]).toEqual({
      sourceProduct: { id: 'b3', name: 'AzureSubscription' },
      targetProduct: { id: '', name: '' },
      status: 'FAILED',
      errorDetails: { code: '42', description: 'd' },
    });
  });
});
