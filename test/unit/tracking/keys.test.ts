import fc from 'fast-check';
import {
  encodeKey,
  joinKey,
  KeyTooLongError,
  MAX_KEY_CHARS,
  newestFirstKey,
  parseTimeKey,
  timeKey,
} from '../../../shared/tracking/keys';

/** `/ \ # ?` and the control characters U+0000–U+001F, U+007F–U+009F. */
const FORBIDDEN = new RegExp(
  '[/\\\\#?' +
    String.fromCharCode(0) +
    '-' +
    String.fromCharCode(0x1f) +
    String.fromCharCode(0x7f) +
    '-' +
    String.fromCharCode(0x9f) +
    ']',
);
const MAX_DATE_MS = 8_640_000_000_000_000;

/** The encoding's inverse (`~` and four hex digits are one UTF-16 unit): a key that decodes back loses nothing. */
function decodeKey(key: string): string {
  return key.replace(/~([0-9a-f]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Inverted keys count down from the largest time a Date can hold. */
function parseNewestFirstKey(key: string): number {
  return MAX_DATE_MS - Number(key.slice(0, 16));
}

describe('table key encoder', () => {
  it('never emits a forbidden character and round-trips any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (value) => {
        const key = encodeKey(value);
        expect(key).not.toMatch(FORBIDDEN);
        expect(decodeKey(key)).toBe(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('is injective: different inputs never share a key', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 30 }),
        fc.string({ unit: 'binary', maxLength: 30 }),
        (a, b) => {
          fc.pre(a !== b);
          expect(encodeKey(a)).not.toBe(encodeKey(b));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps joined keys injective (the separator never appears inside a part)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 10 }), { minLength: 2, maxLength: 2 }),
        fc.array(fc.string({ maxLength: 10 }), { minLength: 2, maxLength: 2 }),
        (a, b) => {
          fc.pre(a[0] !== b[0] || a[1] !== b[1]);
          expect(joinKey(...a.map(encodeKey))).not.toBe(joinKey(...b.map(encodeKey)));
        },
      ),
    );
  });

  it('leaves GUIDs readable and refuses keys over 1 KiB', () => {
    expect(encodeKey('3fa85f64-5717-4562-b3fc-2c963f66afa6')).toBe('3fa85f64-5717-4562-b3fc-2c963f66afa6');
    expect(encodeKey('a/b#c?d\\e')).toBe('a~002fb~0023c~003fd~005ce');
    expect(encodeKey('x'.repeat(MAX_KEY_CHARS))).toHaveLength(MAX_KEY_CHARS);
    expect(() => encodeKey('x'.repeat(MAX_KEY_CHARS + 1))).toThrow(KeyTooLongError);
    expect(() => encodeKey('/'.repeat(103))).toThrow(KeyTooLongError); // 5 characters each once escaped
  });
});

describe('time-ordered keys', () => {
  const time = fc.integer({ min: 0, max: MAX_DATE_MS });

  it('sort like the times they encode (oldest first) and round-trip', () => {
    fc.assert(
      fc.property(time, time, (a, b) => {
        expect(timeKey(a)).toHaveLength(16);
        expect(Math.sign(timeKey(a).localeCompare(timeKey(b)))).toBe(Math.sign(a - b));
        expect(parseTimeKey(timeKey(a))).toBe(a);
      }),
    );
  });

  it('inverted keys sort newest first and round-trip', () => {
    fc.assert(
      fc.property(time, time, (a, b) => {
        expect(newestFirstKey(a)).toHaveLength(16);
        expect(Math.sign(newestFirstKey(a).localeCompare(newestFirstKey(b)))).toBe(Math.sign(b - a));
        expect(parseNewestFirstKey(newestFirstKey(a))).toBe(a);
      }),
    );
  });

  it('refuses times no Date can hold', () => {
    expect(() => timeKey(-1)).toThrow(RangeError);
    expect(() => timeKey(Number.NaN)).toThrow(RangeError);
    expect(() => newestFirstKey(MAX_DATE_MS + 1)).toThrow(RangeError);
  });
});
