import fc from 'fast-check';
import { notificationEventId } from '../../shared/callbacks/events';
import { GUID_PATTERN, guidFromDigest, guidFromHex, isGuid } from '../../shared/ids';
import { derivedGuid } from '../../dev/simulator/customers';

describe('GUIDs', () => {
  it('checks the 8-4-4-4-12 form, in any case, and nothing else', () => {
    expect(isGuid('3fa85f64-5717-4562-b3fc-2c963f66afa6')).toBe(true);
    expect(isGuid('3FA85F64-5717-4562-B3FC-2C963F66AFA6')).toBe(true);
    for (const value of ['3fa85f6457174562b3fc2c963f66afa6', '{3fa85f64-5717-4562-b3fc-2c963f66afa6}', ' ', 42, null]) {
      expect(isGuid(value)).toBe(false);
    }
  });

  it('writes 32 hex digits as a GUID, keeping their case, and refuses anything else', () => {
    expect(guidFromHex('0af7651916cd43dd8448eb211c80319c')).toBe('0af76519-16cd-43dd-8448-eb211c80319c');
    expect(guidFromHex('0AF7651916CD43DD8448EB211C80319C')).toBe('0AF76519-16CD-43DD-8448-EB211C80319C');
    for (const bad of ['', '0af7651916cd43dd8448eb211c80319', '0af7651916cd43dd8448eb211c80319cd', 'z'.repeat(32)]) {
      expect(() => guidFromHex(bad)).toThrow(RangeError);
    }
  });

  // These ids are stable keys (MS-RequestId of a create, callback event ids, the simulator's state): the values the
  // formulas gave before they were written once are pinned here.
  it('derives the same ids as before, byte for byte', () => {
    expect(guidFromDigest('startUpgrade|demo-1')).toBe('8ec910c2-af2e-4791-917f-8ed09bc4c88f');
    expect(notificationEventId('3fa85f64-5717-4562-b3fc-2c963f66afa6', 'Completed')).toBe(
      'c6bef358-0e84-483d-cb42-791d27596663',
    );
    expect(derivedGuid('00000000-0000-4000-8000-000000000003/existing-upgrade')).toBe(
      '9dff93c9-af2b-417f-abe8-5564c4ca7336',
    );
  });

  it('derives a version 4, RFC 4122 variant GUID from any text, the same one every time', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const id = guidFromDigest(text);
        expect(id).toMatch(GUID_PATTERN);
        expect(id).toMatch(/^.{14}4.{3}-[89ab]/);
        expect(guidFromDigest(text)).toBe(id);
      }),
    );
  });
});
