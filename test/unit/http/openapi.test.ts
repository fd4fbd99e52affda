import { openApiViolations } from '../../helpers/openapi';

describe('the OpenAPI checker', () => {
  it('accepts a documented response', () => {
    expect(
      openApiViolations('GET', '/health', {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: { status: 'ok', version: '0.1.0', checks: { tableStorage: 'ok', webhookSignatures: 'required' } },
      }),
    ).toEqual([]);
  });

  it('flags an undocumented status, a wrong content type, a body off schema and a missing header', () => {
    expect(openApiViolations('GET', '/health', { status: 500, headers: {}, body: {} })[0]).toMatch(/not documented/);
    expect(
      openApiViolations('GET', '/health', { status: 200, headers: { 'content-type': 'text/plain' }, body: '' })[0],
    ).toMatch(/content type/);
    expect(
      openApiViolations('POST', '/eligibility', {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: { customerId: 'nope', isEligible: 'yes' },
      }).length,
    ).toBeGreaterThan(1);
    expect(
      openApiViolations('GET', '/health', {
        status: 503,
        headers: { 'content-type': 'application/problem+json' },
        body: { type: 'x', title: 'y', status: 503 },
      }),
    ).toEqual(['header Retry-After is missing']);
  });
});
