import fc from 'fast-check';
import { parseTrackingMessage } from '../../../shared/tracking/start-tracking';

const upgradeId = '3FA85F64-5717-4562-B3FC-2C963F66AFA6';
const customerId = '0a1b2c3d-4e5f-6789-abcd-ef0123456789';

describe('tracking message validation', () => {
  it('accepts an object, JSON text or bytes, and lower-cases the GUIDs', () => {
    const message = { upgradeId, customerId, productFamily: 'Azure', source: 'webhook' };
    for (const input of [message, JSON.stringify(message), Buffer.from(JSON.stringify(message))]) {
      expect(parseTrackingMessage(input)).toEqual({
        ok: true,
        message: { upgradeId: upgradeId.toLowerCase(), customerId, productFamily: 'Azure', source: 'webhook' },
      });
    }
  });

  it.each([
    ['not JSON', '{"upgradeId":', 'message is not valid JSON'],
    ['an array', [], 'message must be a JSON object'],
    ['a number', 42, 'message must be a JSON object'],
    ['null', null, 'message must be a JSON object'],
    ['no upgradeId', { customerId, productFamily: 'Azure' }, 'upgradeId is missing'],
    ['a non-GUID upgradeId', { upgradeId: 'abc', customerId, productFamily: 'Azure' }, 'upgradeId must be a GUID'],
    ['a numeric customerId', { upgradeId, customerId: 7, productFamily: 'Azure' }, 'customerId must be a GUID'],
    ['no productFamily', { upgradeId, customerId }, 'productFamily is missing'],
    ['a bad productFamily', { upgradeId, customerId, productFamily: '../x' }, 'productFamily must be'],
    ['a family Partner Center does not upgrade', { upgradeId, customerId, productFamily: 'Office' }, 'must be "Azure"'],
    [
      'a huge correlationId',
      { upgradeId, customerId, productFamily: 'Azure', correlationId: 'x'.repeat(201) },
      'correlationId must be',
    ],
  ])('rejects %s with its reason', (_, input, reason) => {
    const parsed = parseTrackingMessage(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });

  it('accepts Azure in any case and records it as "Azure"', () => {
    const parsed = parseTrackingMessage({ upgradeId, customerId, productFamily: 'azure' });
    expect(parsed).toMatchObject({ ok: true, message: { productFamily: 'Azure' } });
  });

  it('property: never throws, whatever arrives', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.json(), fc.string()), (input) => {
        expect(() => parseTrackingMessage(input)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});
