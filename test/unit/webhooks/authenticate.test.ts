import { EnvironmentSecretStore } from '../../../shared/secrets/environment-store';
import type { SecretStore } from '../../../shared/secrets/types';
import { authenticateWebhook } from '../../../shared/webhooks/authenticate';
import { signPayload } from '../../../shared/webhooks/signature';

const BODY = Buffer.from('{"customerId":"c"}');

describe('authenticateWebhook', () => {
  it('requires a valid signature when WEBHOOK_SIGNING_SECRET is set (new or old secret)', async () => {
    const store = new EnvironmentSecretStore({ WEBHOOK_SIGNING_SECRET: 'new-secret,old-secret' });
    expect(await authenticateWebhook(store, BODY, signPayload(BODY, 'old-secret'))).toEqual({ ok: true, signed: true });
    const missing = await authenticateWebhook(store, BODY, null);
    const wrong = await authenticateWebhook(store, BODY, signPayload(BODY, 'guess'));
    expect(missing).toMatchObject({ ok: false, reason: 'missing-header', response: { status: 401 } });
    expect(wrong).toMatchObject({ ok: false, reason: 'no-matching-signature', response: { status: 401 } });
    // The answer is the same whatever failed: it helps no attacker.
    expect(!missing.ok && !wrong.ok && missing.response).toEqual(!wrong.ok && wrong.response);
  });

  it('does not require signatures when no secret is configured', async () => {
    expect(await authenticateWebhook(new EnvironmentSecretStore({}), BODY, null)).toEqual({ ok: true, signed: false });
  });

  it('answers 503 (not 500) when the secret store cannot answer', async () => {
    const down: SecretStore = {
      kind: 'key-vault',
      get: () => Promise.reject(new Error('Key Vault unreachable')),
      read: () => Promise.reject(new Error('Key Vault unreachable')),
      set: () => Promise.resolve(),
    };
    expect(await authenticateWebhook(down, BODY, signPayload(BODY, 's'))).toMatchObject({
      ok: false,
      reason: 'secret-unavailable',
      response: { status: 503, headers: { 'retry-after': '30' } },
    });
  });
});
