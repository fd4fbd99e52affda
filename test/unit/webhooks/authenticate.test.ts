import { signedHeaders } from '../../../dev/stack';
import { EnvironmentSecretStore } from '../../../shared/secrets/environment-store';
import type { SecretStore } from '../../../shared/secrets/types';
import { authenticateWebhook, invalidSignatureProblem, webhookSigning } from '../../../shared/webhooks/authenticate';
import { newSigningSecret } from '../../../shared/webhooks/signing';

const BODY = Buffer.from('{"customerId":"c"}');
const NEW = newSigningSecret();
const OLD = newSigningSecret();

function headers(values: Record<string, string>): { get(name: string): string | null } {
  return { get: (name) => values[name] ?? null };
}

const down: SecretStore = {
  kind: 'key-vault',
  get: () => Promise.reject(new Error('Key Vault unreachable')),
  read: () => Promise.reject(new Error('Key Vault unreachable')),
  set: () => Promise.resolve(),
};

describe('authenticateWebhook', () => {
  it('requires a valid signature with the new or the old secret of a rotation', async () => {
    const store = new EnvironmentSecretStore({ WEBHOOK_SIGNING_SECRET: `${NEW},${OLD}` });
    const check = (sent: Record<string, string>) => authenticateWebhook(store, 'required', BODY, headers(sent));
    expect(await check(signedHeaders(BODY, OLD))).toEqual({ ok: true, signed: true });
    expect(await check(signedHeaders(BODY, NEW))).toEqual({ ok: true, signed: true });
    const missing = await check({ 'webhook-id': 'msg_1' });
    const wrong = await check(signedHeaders(BODY, newSigningSecret()));
    expect(missing).toMatchObject({ ok: false, kind: 'rejected', reason: 'missing-header', response: { status: 401 } });
    expect(wrong).toMatchObject({ ok: false, kind: 'rejected', reason: 'no-matching-signature' });
    // The answer is the same whatever failed: it helps no attacker.
    expect(!missing.ok && !wrong.ok && missing.response).toEqual(!wrong.ok && wrong.response);
  });

  it('fails closed: no signing secret is a 503 naming WEBHOOK_SIGNING_SECRET, even for a signed request', async () => {
    // Before, an empty secret meant { ok: true, signed: false }: anyone with a function key could start upgrades.
    for (const env of [{}, { WEBHOOK_SIGNING_SECRET: ' ' }]) {
      const refused = await authenticateWebhook(new EnvironmentSecretStore(env), 'required', BODY, headers({}));
      expect(refused).toMatchObject({
        ok: false,
        kind: 'unavailable',
        response: {
          status: 503,
          headers: { 'retry-after': '300' },
          jsonBody: {
            type: 'urn:azure-plan-upgrades:problem:webhook-signing-unavailable',
            detail: expect.stringContaining('WEBHOOK_SIGNING_SECRET') as unknown,
          },
        },
      });
    }
  });

  it('refuses a secret that is not a whsec_ secret (read from Key Vault), naming the setting and not the value', async () => {
    const store = new EnvironmentSecretStore({ WEBHOOK_SIGNING_SECRET: 'a-pass-phrase-someone-typed' });
    const refused = await authenticateWebhook(store, 'required', BODY, headers(signedHeaders(BODY, NEW)));
    expect(refused).toMatchObject({ ok: false, kind: 'unavailable', response: { status: 503 } });
    const said = JSON.stringify(refused);
    expect(said).toContain('WEBHOOK_SIGNING_SECRET');
    expect(said).not.toContain('pass-phrase');
  });

  it('takes unsigned requests only when signatures are disabled (the local opt-out)', async () => {
    expect(await authenticateWebhook(new EnvironmentSecretStore({}), 'disabled', BODY, headers({}))).toEqual({
      ok: true,
      signed: false,
    });
  });

  it('answers 503 (not 500) when the secret store cannot answer', async () => {
    expect(await authenticateWebhook(down, 'required', BODY, headers(signedHeaders(BODY, NEW)))).toMatchObject({
      ok: false,
      kind: 'unavailable',
      response: { status: 503, headers: { 'retry-after': '30' } },
    });
  });
});

describe('webhookSigning (what the health check reports)', () => {
  it('says which mode is on', async () => {
    const secret = new EnvironmentSecretStore({ WEBHOOK_SIGNING_SECRET: NEW });
    expect(await webhookSigning(secret, 'required')).toEqual({ mode: 'required', secrets: [NEW] });
    expect(await webhookSigning(secret, 'disabled')).toEqual({ mode: 'disabled' });
    expect(await webhookSigning(new EnvironmentSecretStore({}), 'required')).toMatchObject({
      mode: 'unavailable',
      cause: 'not-set',
    });
    expect(await webhookSigning(down, 'required')).toMatchObject({ mode: 'unavailable', cause: 'unreadable' });
  });
});

describe('invalidSignatureProblem', () => {
  it('answers every failure with the same generic 401 problem, naming the scheme', () => {
    const response = invalidSignatureProblem('/api/upgrades');
    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.jsonBody).toEqual({
      type: 'urn:azure-plan-upgrades:problem:invalid-signature',
      title: 'The request signature is not valid',
      status: 401,
      detail: expect.stringContaining('webhook-signature') as unknown,
      instance: '/api/upgrades',
    });
  });
});
