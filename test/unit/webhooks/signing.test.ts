import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import {
  newSigningSecret,
  parseSigningSecrets,
  SIGNATURE_TOLERANCE_SECONDS,
  signingSecretProblem,
  signWebhook,
  verifyWebhook,
  webhookIdProblem,
  type SignatureHeaders,
} from '../../../shared/webhooks/signing';

/** The Standard Webhooks specification's published test vector. */
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const OLD_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const T = 1_763_700_000;
const BODY = Buffer.from('{"customerId":"0d9a2f0e-1f7b-4a36-9f0b-7d8c3b1e2a10"}');

/** The signature as the specification defines it, computed here without the library. */
function byHand(secret: string, id: string, t: number, body: Buffer | string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${t}.`).update(body).digest('base64')}`;
}

function headersOf(values: Partial<Record<string, string>>): { get(name: string): string | null } {
  return { get: (name) => values[name] ?? null };
}

/** The library reads the system clock: tests set it (and the verifier reads the same one). */
let clock: jest.SpyInstance<number, []>;
beforeEach(() => {
  clock = jest.spyOn(Date, 'now').mockReturnValue(T * 1000);
});
afterEach(() => clock.mockRestore());

describe('signWebhook', () => {
  it('reproduces the specification test vector, as the HMAC computed by hand does', () => {
    const headers = signWebhook([SPEC.secret], SPEC.id, SPEC.body, SPEC.timestamp);
    expect(headers).toEqual({
      'webhook-id': SPEC.id,
      'webhook-timestamp': String(SPEC.timestamp),
      'webhook-signature': SPEC.signature,
    });
    expect(byHand(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
  });

  it('is HMAC-SHA256 over "<id>.<timestamp>.<raw body>" with the base64-decoded key, for any input', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 24, maxLength: 64 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        fc.string({ maxLength: 300 }),
        (key, id, t, body) => {
          const secret = `whsec_${Buffer.from(key).toString('base64')}`;
          expect(signWebhook([secret], id, body, t)['webhook-signature']).toBe(byHand(secret, id, t, body));
        },
      ),
    );
  });

  it('signs with every secret of a rotation, space-separated, in order', () => {
    expect(signWebhook([SECRET, OLD_SECRET], 'msg_1', BODY, T)['webhook-signature']).toBe(
      `${byHand(SECRET, 'msg_1', T, BODY)} ${byHand(OLD_SECRET, 'msg_1', T, BODY)}`,
    );
  });

  it('refuses to sign without a secret or with a time that is not unix seconds', () => {
    expect(() => signWebhook([], 'msg_1', BODY, T)).toThrow();
    expect(() => signWebhook([SECRET], 'msg_1', BODY, -1)).toThrow();
    expect(() => signWebhook([SECRET], 'msg_1', BODY, 1.5)).toThrow();
  });
});

describe('verifyWebhook', () => {
  const valid = signWebhook([SECRET], 'msg_1', BODY, T);
  const reason = (headers: Partial<Record<string, string>>, secrets = [SECRET], body = BODY) => {
    const result = verifyWebhook(secrets, body, headersOf(headers));
    return result.ok ? 'ok' : result.reason;
  };
  const withSignature = (signature: string) => ({ ...valid, 'webhook-signature': signature });

  it('accepts what the official library signs, and what it signs with several secrets', () => {
    const official = new Webhook(SECRET).sign('msg_1', new Date(T * 1000), BODY);
    expect(reason(withSignature(official))).toBe('ok');
    expect(reason(valid)).toBe('ok');
    // ...and the library verifies what this module signs.
    expect(() => new Webhook(SECRET).verify(BODY, { ...valid }, { jsonParse: false })).not.toThrow();
  });

  it.each<[string, Partial<SignatureHeaders>, string]>([
    ['no headers', {}, 'missing-header'],
    ['no webhook-id', { ...valid, 'webhook-id': '' }, 'missing-header'],
    ['no timestamp', { 'webhook-id': 'msg_1', 'webhook-signature': valid['webhook-signature'] }, 'missing-header'],
    ['no signature', { 'webhook-id': 'msg_1', 'webhook-timestamp': String(T) }, 'missing-header'],
    ['a webhook-id with a space', { ...valid, 'webhook-id': 'msg 1' }, 'malformed-header'],
    ['a timestamp that is not digits', { ...valid, 'webhook-timestamp': `${T}.5` }, 'malformed-header'],
    ['a negative timestamp', { ...valid, 'webhook-timestamp': `-${T}` }, 'malformed-header'],
    ['a signature without a version', withSignature('g0hM9SsE+OTPJTGt'), 'malformed-header'],
    ['the old Stripe-style header', withSignature(`t=${T},v1=${'ab'.repeat(32)}`), 'malformed-header'],
    ['a huge signature header', withSignature(`v1,${'a'.repeat(10_000)}`), 'malformed-header'],
    ['a signature by another secret', withSignature(byHand(OLD_SECRET, 'msg_1', T, BODY)), 'no-matching-signature'],
    [
      'only an unknown version',
      withSignature(`v1a,${byHand(SECRET, 'msg_1', T, BODY).slice(3)}`),
      'no-matching-signature',
    ],
    ['an empty v1', withSignature('v1,='), 'no-matching-signature'],
  ])('refuses %s', (_name, headers, expected) => {
    expect(reason(headers)).toBe(expected);
  });

  it('accepts 300 s either way and refuses 301 s old or ahead', () => {
    for (const [offset, expected] of [
      [SIGNATURE_TOLERANCE_SECONDS, 'ok'],
      [-SIGNATURE_TOLERANCE_SECONDS, 'ok'],
      [301, 'timestamp-out-of-tolerance'],
      [-301, 'timestamp-out-of-tolerance'],
    ] as const) {
      clock.mockReturnValue((T + offset) * 1000);
      expect(reason(valid)).toBe(expected);
    }
  });

  it('accepts old and new secrets during a rotation, and nothing else', () => {
    const signedOld = signWebhook([OLD_SECRET], 'msg_1', BODY, T);
    expect(reason(signedOld, [SECRET, OLD_SECRET])).toBe('ok');
    expect(reason(valid, [SECRET, OLD_SECRET])).toBe('ok');
    expect(reason(signedOld, [SECRET])).toBe('no-matching-signature');
    expect(reason(signWebhook([SECRET, OLD_SECRET], 'msg_1', BODY, T), [OLD_SECRET])).toBe('ok');
    // A valid signature beside one that is not, in either order.
    const bad = byHand(newSigningSecret(), 'msg_1', T, BODY);
    expect(reason(withSignature(`${bad} ${valid['webhook-signature']}`))).toBe('ok');
    expect(reason(withSignature(`${valid['webhook-signature']} ${bad}`))).toBe('ok');
  });
});

describe('verifyWebhook (properties)', () => {
  const secretArb = fc
    .uint8Array({ minLength: 24, maxLength: 64 })
    .map((k) => `whsec_${Buffer.from(k).toString('base64')}`);
  const idArb = fc.stringMatching(/^[\x21-\x7e]{1,60}$/);
  const bodyArb = fc.string({ maxLength: 400 }).map((s) => Buffer.from(s, 'utf8'));
  const tArb = fc.integer({ min: 1_000_000, max: 4_000_000_000 });

  function verifyAt(t: number, secret: string, body: Buffer, headers: SignatureHeaders) {
    clock.mockReturnValue(t * 1000);
    return verifyWebhook([secret], body, headersOf({ ...headers }));
  }

  it('any signed body verifies within the tolerance', () => {
    fc.assert(
      fc.property(bodyArb, secretArb, idArb, tArb, fc.integer({ min: -300, max: 300 }), (body, secret, id, t, skew) => {
        expect(verifyAt(t + skew, secret, body, signWebhook([secret], id, body, t))).toEqual({ ok: true });
      }),
    );
  });

  it('another body, id or timestamp with the same signature fails', () => {
    fc.assert(
      fc.property(bodyArb, secretArb, idArb, tArb, fc.nat(2), (body, secret, id, t, change) => {
        const signed = signWebhook([secret], id, body, t);
        const changed: SignatureHeaders =
          change === 1
            ? { ...signed, 'webhook-id': `${id}x` }
            : change === 2
              ? { ...signed, 'webhook-timestamp': String(t + 1) }
              : signed;
        const otherBody = change === 0 ? Buffer.concat([body, Buffer.from(' ')]) : body;
        expect(verifyAt(t, secret, otherBody, changed)).toEqual({ ok: false, reason: 'no-matching-signature' });
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
          expect(verifyAt(ahead ? t - d : t + d, s, b, signWebhook([s], 'msg_1', b, t))).toEqual({
            ok: false,
            reason: 'timestamp-out-of-tolerance',
          });
        },
      ),
    );
  });

  it('arbitrary header values never throw and never pass', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 100 }),
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 200 }),
        (id, t, signature) => {
          const result = verifyWebhook(
            [SECRET],
            BODY,
            headersOf({ 'webhook-id': id, 'webhook-timestamp': t, 'webhook-signature': signature }),
          );
          expect(result.ok).toBe(false);
        },
      ),
    );
  });
});

describe('signing secrets', () => {
  it('accepts whsec_ and the base64 of 24 to 64 bytes', () => {
    for (const bytes of [24, 32, 64]) {
      expect(signingSecretProblem(`whsec_${randomBytes(bytes).toString('base64')}`)).toBeUndefined();
    }
    expect(signingSecretProblem(SPEC.secret)).toBeUndefined();
  });

  it.each([
    ['without the prefix', randomBytes(32).toString('base64'), /does not start with whsec_/],
    ['of 23 bytes', `whsec_${randomBytes(23).toString('base64')}`, /holds 23/],
    ['of 65 bytes', `whsec_${randomBytes(65).toString('base64')}`, /holds 65/],
    ['a pass phrase', 'whsec_correct horse battery staple', /not base64/],
    ['base64url', `whsec_${Buffer.alloc(32, 0xfb).toString('base64url')}`, /not base64/],
    ['the old kind', 'webhook-signing-secret-of-2025', /does not start with whsec_/],
  ])('refuses a secret %s, naming no part of it', (_name, secret, problem) => {
    const said = signingSecretProblem(secret);
    expect(said).toMatch(problem);
    expect(said).toMatch(/whsec_ followed by the base64 of 24 to 64 random bytes/);
    expect(said).not.toContain(secret.slice(6, 16));
  });

  it('reads a comma-separated list (a rotation), refusing it whole when one secret is malformed', () => {
    expect(parseSigningSecrets(undefined)).toEqual({ ok: true, secrets: [] });
    expect(parseSigningSecrets(' , ')).toEqual({ ok: true, secrets: [] });
    expect(parseSigningSecrets(` ${SECRET} , ${OLD_SECRET} ,, `)).toEqual({ ok: true, secrets: [SECRET, OLD_SECRET] });
    expect(parseSigningSecrets(SECRET)).toEqual({ ok: true, secrets: [SECRET] });
    const refused = parseSigningSecrets(`${SECRET},short`);
    expect(refused).toEqual({ ok: false, problem: expect.stringMatching(/^secret 2: must be whsec_/) as unknown });
  });

  it('makes new secrets of 32 random bytes', () => {
    const a = newSigningSecret();
    expect(signingSecretProblem(a)).toBeUndefined();
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(newSigningSecret()).not.toBe(a);
  });
});

describe('webhook-id', () => {
  it('is required: 1 to 255 visible ASCII characters', () => {
    expect(webhookIdProblem('msg_2KWPBgLlAfxdpx2AI54pPJ85f4W')).toBeUndefined();
    expect(webhookIdProblem('0d9a2f0e-1f7b-4a36-9f0b-7d8c3b1e2a10')).toBeUndefined();
    expect(webhookIdProblem(null)).toEqual({ field: 'webhook-id', message: 'is required' });
    expect(webhookIdProblem('')).toEqual({ field: 'webhook-id', message: 'is required' });
    for (const bad of ['has space', 'x'.repeat(256), 'caf\u00e9', 'a\nb']) {
      expect(webhookIdProblem(bad)).toMatchObject({ field: 'webhook-id' });
    }
  });
});
