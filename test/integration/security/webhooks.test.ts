import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { loadLocalSettings } from '../../../dev/host/settings';
import {
  newWebhookId,
  startHostedStack,
  type HostedStack,
  type HttpAnswer,
  type PostOptions,
} from '../../../dev/stack';
import { createSecretStore, silentSecretsLogger } from '../../../shared/secrets';
import { isFinal } from '../../../shared/tracking';
import { newSigningSecret } from '../../../shared/webhooks/signing';
import { FakeKeyVaultServer, FakeTokenCredential, fakeVaultClientOptions } from '../../fakes/key-vault-server';
import { documentedCalls, type ProblemBody } from '../../helpers/api';
import { eventually, startTestLocalHost } from '../../helpers/local-host';
import { wrapWrites } from '../../reliability/faults';
import { customerId, startHarness } from '../callbacks/harness';

/**
 * The webhooks are safe to hand to a partner: they fail closed and trust no request beyond its signature. One test
 * per finding of the issue, each through the real functions in the local host, on Azurite and the Partner Center
 * simulator (whose counters show what reached Partner Center). On the code before, the app checked a Stripe-style
 * `X-Signature` over `<t>.<body>` only when a secret was set, deduplicated an optional `X-Event-Id` per endpoint
 * with no binding to the body: each test below fails there (most through their control, the same request correctly
 * signed as Standard Webhooks sign, which that code refused).
 */

const SECRET = newSigningSecret();
/** Eligible customers of the tests' own scenario. */
const eligible = (n: number) => customerId(0x600 + n);
const CUSTOMER = eligible(1);
const SCENARIO = {
  name: 'security-webhooks',
  customers: Array.from({ length: 8 }, (_, i) => ({ id: eligible(i + 1) })),
};

/** Partner Center calls the webhooks make (eligibility and create), and creates alone. */
function partnerCenterCalls(stack: HostedStack): { calls: number; creates: number } {
  const requests = stack.sim.state.counters().requests;
  const creates = requests.create?.total ?? 0;
  return { calls: (requests.eligibility?.total ?? 0) + creates, creates };
}

// First in the file: the app's entry point validates the settings when it loads, and a module that loaded once
// stays loaded (a load that throws does not).
describe('security: secrets and the opt-out are checked at start', () => {
  const { values } = loadLocalSettings(path.resolve(__dirname, '../../..'), {});

  /** The error the app's start fails with under these settings (a start that succeeds fails the test). */
  async function startFailure(settings: Record<string, string>): Promise<Error> {
    try {
      await (await startTestLocalHost({ settings })).stop();
    } catch (error) {
      return error as Error;
    } finally {
      delete process.env.WEBSITE_INSTANCE_ID; // the host puts its settings into this process's environment
    }
    throw new Error('the app started');
  }

  it.each([
    ['shorter than 24 random bytes', `whsec_${randomBytes(16).toString('base64')}`],
    ['not a whsec_ secret', randomBytes(32).toString('hex')],
  ])('a signing secret %s is refused at start, naming the setting and not the value', async (_what, secret) => {
    // The finding: any non-empty signing secret was accepted.
    const failure = await startFailure({ ...values, TABLE_NAME_PREFIX: 'secstart', WEBHOOK_SIGNING_SECRET: secret });
    expect(failure.message).toMatch(
      /^Worker was unable to load entry point .*Setting WEBHOOK_SIGNING_SECRET must be whsec_/,
    );
    expect(failure.message).not.toContain(secret.slice(-12));
  });

  it('the local opt-out is refused when the app runs in Azure (WEBSITE_INSTANCE_ID set); locally it takes unsigned webhooks', async () => {
    const optOut = { ...values, TABLE_NAME_PREFIX: 'secoptout', WEBHOOK_SIGNATURES: 'disabled' };
    const failure = await startFailure({ ...optOut, WEBSITE_INSTANCE_ID: randomBytes(32).toString('hex') });
    expect(failure.message).toMatch(
      /Setting WEBHOOK_SIGNATURES is "disabled", which is refused when the app runs in Azure \(WEBSITE_INSTANCE_ID is set\)/,
    );
    const local = await startHostedStack({
      simulator: { scenario: SCENARIO },
      tablePrefix: 'secoptout',
      webhookSecret: '',
      settings: { WEBHOOK_SIGNATURES: 'disabled' },
    });
    try {
      expect((await local.post('/eligibility', { customerId: CUSTOMER })).status).toBe(200);
      expect((await local.get('/health')).body).toMatchObject({ checks: { webhookSignatures: 'disabled' } });
    } finally {
      await local.stop();
    }
  });
});

describe('security: webhooks are signed (Standard Webhooks), and a signature is good for one request only', () => {
  let stack: HostedStack;
  let writes = 0;

  beforeAll(async () => {
    stack = await startHostedStack({
      simulator: { scenario: SCENARIO },
      tablePrefix: 'secwh',
      webhookSecret: SECRET,
      settings: { PARTNER_CENTER_MAX_ATTEMPTS: '1' },
      services: ({ tables }) => ({
        // Writes that landed (an insert that meets an existing row fails, and changes nothing).
        tables: wrapWrites(tables, async (_key, _method, write) => {
          const result = await write();
          writes++;
          return result;
        }),
      }),
    });
  });
  afterAll(async () => stack?.stop());
  afterEach(() => stack.sim.state.clearFaults());

  const { post } = documentedCalls(() => stack);

  /** Asserts that the request was refused with `status` and that nothing happened: no Partner Center call, no write. */
  async function refusedWithoutEffect(send: () => Promise<HttpAnswer>, status: number, type: string) {
    const before = { ...partnerCenterCalls(stack), writes };
    const response = await send();
    expect({ status: response.status, type: (response.body as ProblemBody).type }).toEqual({
      status,
      type: `urn:azure-plan-upgrades:problem:${type}`,
    });
    expect({ ...partnerCenterCalls(stack), writes }).toEqual(before);
    return response;
  }

  it('an unsigned request is refused (401) and reaches nothing; the same request signed is taken', async () => {
    const body = { customerId: CUSTOMER };
    for (const pathName of ['/eligibility', '/upgrades']) {
      await refusedWithoutEffect(
        () => post(pathName, body, { headers: { 'webhook-signature': null, 'webhook-timestamp': null } }),
        401,
        'invalid-signature',
      );
    }
    expect((await post('/eligibility', body)).status).toBe(200);
  });

  it('a wrongly signed request is refused: another secret, another body, another webhook-id', async () => {
    const body = JSON.stringify({ customerId: CUSTOMER });
    const signed = stack.signedHeaders(body);
    const asSigned = (headers: Record<string, string>) => ({ headers, secret: newSigningSecret() });
    await refusedWithoutEffect(() => post('/upgrades', body, { secret: newSigningSecret() }), 401, 'invalid-signature');
    await refusedWithoutEffect(
      () => post('/upgrades', body.replace(CUSTOMER, eligible(2)), asSigned(signed)),
      401,
      'invalid-signature',
    );
    await refusedWithoutEffect(
      () => post('/upgrades', body, asSigned({ ...signed, 'webhook-id': 'msg_another' })),
      401,
      'invalid-signature',
    );
    expect((await post('/eligibility', body, { headers: signed, secret: newSigningSecret() })).status).toBe(200);
  });

  it('a stale or future-dated signature is refused (more than five minutes away); within them it is taken', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const signedAt of [now - 301, now - 3600, now + 301]) {
      await refusedWithoutEffect(
        () => post('/upgrades', { customerId: CUSTOMER }, { signedAt }),
        401,
        'invalid-signature',
      );
    }
    expect((await post('/eligibility', { customerId: CUSTOMER }, { signedAt: now - 240 })).status).toBe(200);
  });

  it('a captured signed eligibility check replayed against /api/upgrades is refused (422): no upgrade starts', async () => {
    // The finding: the signature covered "<t>.<body>" and both endpoints take the same body, so the captured read
    // (and its X-Event-Id, per endpoint) replayed within 300 s as a write and started an upgrade.
    const customer = eligible(3);
    const body = JSON.stringify({ customerId: customer });
    const captured = stack.signedHeaders(body);
    expect((await post('/eligibility', body, { headers: captured })).status).toBe(200);
    const replay = await refusedWithoutEffect(
      () => post('/upgrades', body, { headers: captured }),
      422,
      'webhook-id-reused',
    );
    expect(replay.body).not.toHaveProperty('isEligible');
    expect(stack.sim.state.listUpgrades({ customerId: customer })).toHaveLength(0);

    // Also when the captured check failed (a retryable 503 frees its id for a retry of the same request only).
    const failed = stack.signedHeaders(body);
    stack.sim.setFaults('eligibility', { status503: 1 });
    expect((await post('/eligibility', body, { headers: failed })).status).toBe(503);
    stack.sim.state.clearFaults();
    await refusedWithoutEffect(() => post('/upgrades', body, { headers: failed }), 422, 'webhook-id-reused');
    expect(stack.sim.state.listUpgrades({ customerId: customer })).toHaveLength(0);
    // The same check, retried, still runs.
    expect(
      (await post('/eligibility', body, { headers: stack.signedHeaders(body, { webhookId: failed['webhook-id'] }) }))
        .status,
    ).toBe(200);
  });

  it('the same webhook-id with another body is refused (422), never answered with the first response', async () => {
    // The finding: an X-Event-Id reused with another body got the first answer (an upgrade for someone else).
    const webhookId = newWebhookId();
    const first = await post('/upgrades', { customerId: eligible(4) }, { webhookId });
    expect(first.status).toBe(202);
    // Its tracking starts from the queue: wait for it, so that its writes are not counted as the refusal's.
    await stack.tracked((first.body as { upgradeId: string }).upgradeId);
    const other = await refusedWithoutEffect(
      () => post('/upgrades', { customerId: eligible(5) }, { webhookId }),
      422,
      'webhook-id-reused',
    );
    expect(JSON.stringify(other.body)).not.toContain((first.body as { upgradeId: string }).upgradeId);
    expect(stack.sim.state.listUpgrades({ customerId: eligible(5) })).toHaveLength(0);
    // The same request is answered from storage.
    const repeat = await post('/upgrades', { customerId: eligible(4) }, { webhookId });
    expect([repeat.status, repeat.headers['idempotent-replayed'], repeat.body]).toEqual([202, 'true', first.body]);
  });

  it('a request signed with the official Standard Webhooks library is taken, with old and new secrets of a rotation', async () => {
    const body = JSON.stringify({ customerId: CUSTOMER });
    const signature = new Webhook(SECRET).sign('msg_official_1', new Date(), body);
    const headers = {
      'webhook-id': 'msg_official_1',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': `${new Webhook(newSigningSecret()).sign('msg_official_1', new Date(), body)} ${signature}`,
    };
    const response = await post('/eligibility', body, { headers, secret: newSigningSecret() });
    expect(response.status).toBe(200);
  });

  it('a signature failure is logged and counted with its reason and endpoint, and no secret or signature', async () => {
    const body = JSON.stringify({ customerId: CUSTOMER });
    const sent = stack.signedHeaders(body, { webhookId: 'msg_logged' });
    // One character of the signature changed: a signature that matches nothing.
    const signature = sent['webhook-signature'];
    const tampered = `v1,${signature[3] === 'A' ? 'B' : 'A'}${signature.slice(4)}`;
    const before = stack.telemetry.named('WebhookSignatureRejected').length;
    await post('/upgrades', body, { headers: { ...sent, 'webhook-signature': tampered } });
    await post('/eligibility', body, { headers: { 'webhook-timestamp': null } });
    const events = stack.telemetry.named('WebhookSignatureRejected').slice(before);
    expect(events.map((e) => e.properties)).toEqual([
      { reason: 'no-matching-signature', endpoint: '/api/upgrades' },
      { reason: 'missing-header', endpoint: '/api/eligibility' },
    ]);
    expect(stack.logs.some((l) => l.includes('/api/upgrades: signature rejected (no-matching-signature)'))).toBe(true);
    const said = [...stack.logs, ...stack.telemetry.items.map((i) => i.text)].join('\n');
    for (const material of [SECRET, SECRET.slice('whsec_'.length), signature.slice(3), tampered.slice(3)]) {
      expect(said).not.toContain(material);
    }
  });
});

describe('security: no signing secret, no webhook (fail closed)', () => {
  it('without WEBHOOK_SIGNING_SECRET every POST is refused with 503 naming it, and Partner Center gets no call', async () => {
    // The finding: with the secret empty (never stored, or the environment store's fallback) the webhook went on.
    const stack = await startHostedStack({
      simulator: { scenario: SCENARIO },
      tablePrefix: 'secnosecret',
      webhookSecret: '',
    });
    try {
      const { post } = documentedCalls(() => stack);
      const before = partnerCenterCalls(stack);
      for (const pathName of ['/upgrades', '/eligibility']) {
        for (const options of [{}, { secret: newSigningSecret() }] satisfies PostOptions[]) {
          const response = await post(pathName, { customerId: CUSTOMER }, options);
          expect(response.status).toBe(503);
          expect(response.body).toMatchObject({
            type: 'urn:azure-plan-upgrades:problem:webhook-signing-unavailable',
            detail: expect.stringContaining('WEBHOOK_SIGNING_SECRET') as unknown,
          });
          expect(response.headers['retry-after']).toMatch(/^\d+$/);
        }
      }
      expect(partnerCenterCalls(stack)).toEqual(before);
      expect(stack.sim.state.listUpgrades({ customerId: CUSTOMER })).toHaveLength(0);
      expect(stack.logs.some((l) => /WEBHOOK_SIGNING_SECRET is not set/.test(l))).toBe(true);
      const health = await stack.get('/health');
      expect(health.body).toMatchObject({ checks: { webhookSignatures: 'unavailable' } });
    } finally {
      await stack.stop();
    }
  });

  it('a secret missing from Key Vault (or disabled, or not a whsec_ secret) is a 503 naming the setting; once stored, signed requests pass', async () => {
    const vault = await new FakeKeyVaultServer().start();
    const clientOptions = fakeVaultClientOptions(0);
    const stack = await startHostedStack({
      simulator: { scenario: SCENARIO },
      tablePrefix: 'seckv',
      webhookSecret: '',
      settings: { KEY_VAULT_URL: vault.url, SECRET_CACHE_TTL_SECONDS: '0' },
      secrets: (settings, config) => {
        vault.seed('partner-center-client-secret', settings.PARTNER_CENTER_CLIENT_SECRET);
        vault.seed('partner-center-refresh-token', settings.PARTNER_CENTER_REFRESH_TOKEN);
        return createSecretStore(config, {
          logger: silentSecretsLogger,
          credential: new FakeTokenCredential(),
          clientOptions,
        });
      },
    });
    try {
      const before = partnerCenterCalls(stack);
      const { post } = documentedCalls(() => stack);
      const attempt = () => post('/upgrades', { customerId: CUSTOMER }, { secret: SECRET });
      // The disabled placeholder azd up creates (Key Vault answers 403 SecretDisabled), on a cold cache.
      vault.injectFaults({ status: 403, code: 'SecretDisabled' });
      expect(await attempt()).toMatchObject({
        status: 503,
        body: { detail: 'WEBHOOK_SIGNING_SECRET could not be read; retry later.' },
      });
      // Not stored (404).
      expect(await attempt()).toMatchObject({
        status: 503,
        body: { detail: expect.stringContaining('WEBHOOK_SIGNING_SECRET is not set') },
      });
      // Something that is not a Standard Webhooks secret: refused, and named in the log without its value.
      vault.seed('webhook-signing-secret', 'a-long-pass-phrase-typed-by-hand');
      expect((await attempt()).status).toBe(503);
      expect(stack.logs.some((l) => l.includes('WEBHOOK_SIGNING_SECRET must be whsec_'))).toBe(true);
      expect(stack.logs.join('\n')).not.toContain('pass-phrase');
      expect(partnerCenterCalls(stack)).toEqual(before);
      // The operator stores a secret: the next signed request passes.
      vault.seed('webhook-signing-secret', SECRET);
      expect((await attempt()).status).toBe(202);
    } finally {
      await stack.stop();
      await vault.close();
    }
  });
});

describe('security: billing callbacks verify with the official library', () => {
  it('a callback carries webhook-id (the event id), webhook-timestamp and a v1 signature the library and the specification accept', async () => {
    const callbackSecret = newSigningSecret();
    const customer = eligible(6);
    const h = await startHarness({ callbackSecret, customers: [{ id: customer }] });
    try {
      const upgradeId = await h.startUpgrade(customer);
      await h.tracked(upgradeId);
      await eventually(async () => {
        h.clock.advance(6_000);
        await h.triggerPoll();
        return isFinal((await h.services.tracking.readUpgrade(upgradeId))?.record.status ?? 'Pending')
          ? true
          : undefined;
      });
      const [callback] = await h.until('notifyBillingSystem', () =>
        h.receiver.for(upgradeId).length > 0 ? h.receiver.for(upgradeId) : undefined,
      );
      const headers = Object.fromEntries(
        Object.entries(callback.headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
      );
      expect(headers['webhook-id']).toBe(callback.body.eventId);
      // The official library, as the billing system runs it...
      expect(new Webhook(callbackSecret).verify(callback.raw, headers)).toEqual(callback.body);
      expect(() => new Webhook(newSigningSecret()).verify(callback.raw, headers)).toThrow();
      // ...and the specification by hand: base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" with the decoded key.
      const key = Buffer.from(callbackSecret.slice('whsec_'.length), 'base64');
      const content = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${callback.raw}`;
      expect(headers['webhook-signature']).toBe(`v1,${createHmac('sha256', key).update(content).digest('base64')}`);
      expect(headers).not.toHaveProperty('x-signature');
    } finally {
      await h.stop();
    }
  });
});
