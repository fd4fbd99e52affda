import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import {
  invalidSignatureProblem,
  signPayload,
  SIGNATURE_TOLERANCE_SECONDS,
  verifySignature,
} from '../../../shared/webhooks/signature';

const SECRET = 'whsec_test_current';
const OLD_SECRET = 'whsec_test_previous';
const T = 1_763_700_000;
const NOW = () => T * 1000;
const BODY = Buffer.from('{"customerId":"0d9a2f0e-1f7b-4a36-9f0b-7d8c3b1e2a10"}');

function hex(secret: string, t: number, body: Buffer): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

describe('signPayload', () => {
  it('produces t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"> as documented', () => {
    expect(signPayload(BODY, SECRET, T)).toBe(`t=${T},v1=${hex(SECRET, T, BODY)}`);
    expect(signPayload(BODY.toString('utf8'), SECRET, T)).toBe(signPayload(BODY, SECRET, T));
  });

  it('signs with every given secret during a rotation', () => {
    expect(signPayload(BODY, [SECRET, OLD_SECRET], T)).toBe(
      `t=${T},v1=${hex(SECRET, T, BODY)},v1=${hex(OLD_SECRET, T, BODY)}`,
    );
  });

  it('refuses to sign without a secret', () => {
    expect(() => signPayload(BODY, '', T)).toThrow();
    expect(() => signPayload(BODY, [], T)).toThrow();
  });
});

describe('verifySignature', () => {
  const valid = `t=${T},v1=${hex(SECRET, T, BODY)}`;
  const reason = (header: string | null, secrets = [SECRET], now = NOW) => {
    const result = verifySignature(BODY, header, secrets, now);
    return result.ok ? 'ok' : result.reason;
  };

  it('accepts a valid signature', () => {
    expect(reason(valid)).toBe('ok');
  });

  it.each([
    ['missing header', null, 'missing-header'],
    ['empty header', '', 'missing-header'],
    ['no timestamp', `v1=${hex(SECRET, T, BODY)}`, 'malformed-header'],
    ['no v1', `t=${T}`, 'malformed-header'],
    ['only unknown schemes', `t=${T},v0=${hex(SECRET, T, BODY)}`, 'malformed-header'],
    ['two timestamps', `t=${T},t=${T},v1=${hex(SECRET, T, BODY)}`, 'malformed-header'],
    ['timestamp not digits', `t=${T}.5,v1=${hex(SECRET, T, BODY)}`, 'malformed-header'],
    ['negative timestamp', `t=-${T},v1=${hex(SECRET, T, BODY)}`, 'malformed-header'],
    ['spaces', `t=${T}, v1=${hex(SECRET, T, BODY)}`, 'malformed-header'],
    ['empty value', `t=${T},v1=`, 'malformed-header'],
    ['no equals', `t=${T},v1`, 'malformed-header'],
    ['trailing comma', `${valid},`, 'malformed-header'],
    ['non-hex signature', `t=${T},v1=${'zz'.repeat(32)}`, 'not-hex'],
    ['odd-length hex', `t=${T},v1=${hex(SECRET, T, BODY).slice(1)}`, 'not-hex'],
    ['short signature', `t=${T},v1=${hex(SECRET, T, BODY).slice(2)}`, 'wrong-length'],
    ['long signature', `t=${T},v1=${hex(SECRET, T, BODY)}00`, 'wrong-length'],
    ['huge header', `t=${T},v1=${'a'.repeat(10_000)}`, 'malformed-header'],
    ['wrong secret', `t=${T},v1=${hex('other', T, BODY)}`, 'no-matching-signature'],
  ])('rejects %s', (_name, header, expected) => {
    expect(reason(header)).toBe(expected);
  });

  it('ignores unknown schemes next to a valid v1, and accepts upper-case hex', () => {
    expect(reason(`t=${T},v0=deadbeef,v1=${hex(SECRET, T, BODY)},v2=abc`)).toBe('ok');
    expect(reason(`t=${T},v1=${hex(SECRET, T, BODY).toUpperCase()}`)).toBe('ok');
  });

  it('accepts 300 s either way and rejects 301 s old or ahead', () => {
    const at = (offset: number) => () => (T + offset) * 1000;
    expect(reason(valid, [SECRET], at(SIGNATURE_TOLERANCE_SECONDS))).toBe('ok');
    expect(reason(valid, [SECRET], at(-SIGNATURE_TOLERANCE_SECONDS))).toBe('ok');
    expect(reason(valid, [SECRET], at(301))).toBe('timestamp-out-of-tolerance');
    expect(reason(valid, [SECRET], at(-301))).toBe('timestamp-out-of-tolerance');
  });

  it('has no secret to check against when none is configured', () => {
    expect(reason(valid, [])).toBe('no-secret');
    expect(reason(valid, [''])).toBe('no-secret');
  });

  it('accepts old and new secrets during a rotation, and nothing else', () => {
    const signedOld = signPayload(BODY, OLD_SECRET, T);
    expect(reason(signedOld, [SECRET, OLD_SECRET])).toBe('ok');
    expect(reason(valid, [SECRET, OLD_SECRET])).toBe('ok');
    expect(reason(signedOld, [SECRET])).toBe('no-matching-signature');
    expect(reason(signPayload(BODY, [SECRET, OLD_SECRET], T), [OLD_SECRET])).toBe('ok');
  });

  it('answers every failure with the same generic 401 problem', () => {
    const response = invalidSignatureProblem('/api/upgrades');
    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.jsonBody).toEqual({
      type: 'urn:azure-plan-upgrades:problem:invalid-signature',
      title: 'The request signature is not valid',
      status: 401,
      detail: expect.stringContaining('X-Signature: t=<unix seconds>') as unknown,
      instance: '/api/upgrades',
    });
  });
});

describe('verifySignature (properties)', () => {
  const secretArb = fc.string({ minLength: 1, maxLength: 40 });
  const bodyArb = fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b));
  const tArb = fc.integer({ min: 1_000_000, max: 4_000_000_000 });

  function flipBit(buffer: Buffer, bit: number): Buffer {
    const copy = Buffer.from(buffer);
    copy[Math.floor(bit / 8) % copy.length] ^= 1 << (bit % 8);
    return copy;
  }

  it('any signed body verifies within the tolerance', () => {
    fc.assert(
      fc.property(bodyArb, secretArb, tArb, fc.integer({ min: -300, max: 300 }), (body, secret, t, skew) => {
        const header = signPayload(body, secret, t);
        expect(verifySignature(body, header, [secret], () => (t + skew) * 1000)).toEqual({ ok: true });
      }),
    );
  });

  it('a changed bit in the body fails', () => {
    fc.assert(
      fc.property(
        bodyArb.filter((b) => b.length > 0),
        secretArb,
        tArb,
        fc.nat(),
        (body, secret, t, bit) => {
          const header = signPayload(body, secret, t);
          const result = verifySignature(flipBit(body, bit), header, [secret], () => t * 1000);
          expect(result).toEqual({ ok: false, reason: 'no-matching-signature' });
        },
      ),
    );
  });

  it('a changed timestamp fails (re-dated within the tolerance, or out of it)', () => {
    fc.assert(
      fc.property(bodyArb, secretArb, tArb, fc.integer({ min: -100_000, max: 100_000 }), (body, secret, t, delta) => {
        fc.pre(delta !== 0);
        const signature = signPayload(body, secret, t).split(',')[1];
        const result = verifySignature(body, `t=${t + delta},${signature}`, [secret], () => (t + delta) * 1000);
        expect(result).toEqual({ ok: false, reason: 'no-matching-signature' });
      }),
    );
  });

  it('a changed bit in the signature fails', () => {
    fc.assert(
      fc.property(bodyArb, secretArb, tArb, fc.integer({ min: 0, max: 255 }), (body, secret, t, bit) => {
        const [timestamp, v1] = signPayload(body, secret, t).split(',') as [string, string];
        const bytes = flipBit(Buffer.from(v1.slice(3), 'hex'), bit);
        const result = verifySignature(body, `${timestamp},v1=${bytes.toString('hex')}`, [secret], () => t * 1000);
        expect(result).toEqual({ ok: false, reason: 'no-matching-signature' });
      }),
    );
  });

  it('301 s or more old or ahead fails', () => {
    fc.assert(
      fc.property(
        bodyArb,
        secretArb,
        tArb,
        fc.integer({ min: 301, max: 10_000_000 }),
        fc.boolean(),
        (b, s, t, d, ahead) => {
          const now = () => (ahead ? t - d : t + d) * 1000;
          expect(verifySignature(b, signPayload(b, s, t), [s], now)).toEqual({
            ok: false,
            reason: 'timestamp-out-of-tolerance',
          });
        },
      ),
    );
  });

  it('two v1 values of which one is valid pass, in either order', () => {
    fc.assert(
      fc.property(bodyArb, secretArb, secretArb, tArb, fc.boolean(), (body, secret, other, t, validFirst) => {
        fc.pre(secret !== other);
        const good = signPayload(body, secret, t).split(',')[1];
        const bad = signPayload(body, other, t).split(',')[1];
        const header = `t=${t},${validFirst ? `${good},${bad}` : `${bad},${good}`}`;
        expect(verifySignature(body, header, [secret], () => t * 1000)).toEqual({ ok: true });
      }),
    );
  });

  it('arbitrary header strings never throw and never pass', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (header) => {
        const result = verifySignature(BODY, header, [SECRET], NOW);
        expect(result.ok).toBe(false);
      }),
    );
  });
});
