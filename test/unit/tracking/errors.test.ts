import { PartnerCenterError } from '../../../shared/partner-center/errors';
import { asPartnerCenterError, describeError } from '../../../shared/tracking/errors';

describe('Partner Center errors as the poll run reads them', () => {
  it('recognises the client’s PartnerCenterError, its category and Retry-After', () => {
    const throttled = new PartnerCenterError({
      operation: 'getUpgradeStatus',
      status: 429,
      description: 'Too many requests',
      retryAfterMs: 7_000,
    });
    expect(asPartnerCenterError(throttled)).toMatchObject({ category: 'throttled', retryAfterMs: 7_000, status: 429 });
    const auth = new PartnerCenterError({ operation: 'getUpgradeStatus', status: 401, description: 'Unauthorized' });
    expect(asPartnerCenterError(auth)?.category).toBe('auth');
  });

  it('describes a failure for lastError without a stack, cut to 1,000 characters', () => {
    const error = new PartnerCenterError({
      operation: 'getUpgradeStatus',
      status: 503,
      description: 'x'.repeat(5_000),
    });
    const described = describeError(error);
    expect(described.category).toBe('transient');
    expect(described.text).toMatch(/^transient HTTP 503/);
    expect(described.text.length).toBeLessThanOrEqual(1_000);
    expect(described.text).not.toMatch(/\n\s+at /);
    expect(described.code).toBeUndefined();
    expect(describeError(new TypeError('boom'))).toEqual({ category: 'internal', text: 'TypeError: boom' });
    // Partner Center's code is kept apart from the text: the read API shows it, never the text.
    const unknown = new PartnerCenterError({
      operation: 'getUpgradeStatus',
      status: 404,
      code: 900106,
      description: 'x',
    });
    expect(describeError(unknown)).toMatchObject({ category: 'not-found', code: 900106 });
    expect(describeError({ category: 'transient', code: 'E42', message: 'odd' }).code).toBeUndefined();
    expect(asPartnerCenterError({ category: 'made-up' })).toBeUndefined();
  });
});
