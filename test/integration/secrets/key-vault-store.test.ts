import { SecretClient } from '@azure/keyvault-secrets';
import { RefreshTokenOwner } from '../../../shared/partner-center';
import {
  CachedSecretStore,
  createSecretStore,
  KeyVaultSecretStore,
  SecretUnavailableError,
  SecretWriteError,
  type SecretsLogger,
} from '../../../shared/secrets';
import {
  FAKE_KEY_VAULT_TENANT,
  FakeKeyVaultServer,
  FakeTokenCredential,
  fakeVaultClientOptions,
} from '../../fakes/key-vault-server';

// The SDK's own pipeline (challenge policy, retry, throttling) runs; only the retry delays are shortened.
const clientOptions = fakeVaultClientOptions(2);

class CapturingLogger implements SecretsLogger {
  readonly lines: string[] = [];
  info(message: string): void {
    this.lines.push(`info ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn ${message}`);
  }
}

const CLIENT_SECRET = 'client-secret-value-7d1f0c';
const REFRESH_TOKEN = 'refresh-token-value-0.AAAA-original';

describe('Key Vault secret store against a protocol-speaking endpoint', () => {
  let vault: FakeKeyVaultServer;
  let credential: FakeTokenCredential;

  beforeEach(async () => {
    vault = await new FakeKeyVaultServer().start();
    credential = new FakeTokenCredential();
    vault.seed('partner-center-client-secret', CLIENT_SECRET);
    vault.seed('partner-center-refresh-token', REFRESH_TOKEN);
  });
  afterEach(async () => {
    await vault.close();
  });

  function keyVaultStore(timeoutMs = 500): KeyVaultSecretStore {
    return new KeyVaultSecretStore(vault.url, { credential, clientOptions, timeoutMs });
  }

  function cachedStore(clock: () => number, logger = new CapturingLogger()) {
    return new CachedSecretStore(keyVaultStore(), { ttlMs: 300_000, logger, clock });
  }

  /** The app's refresh-token owner over the cached Key Vault store. */
  function tokenOwner(clock: () => number, logs: string[], writeIntervalMs = 3_600_000): RefreshTokenOwner {
    return new RefreshTokenOwner(cachedStore(clock), {
      checkIntervalMs: 300_000,
      writeIntervalMs,
      now: clock,
      logger: (level, message, props) => logs.push(`${level} ${message} ${JSON.stringify(props)}`),
    });
  }

  it('answers the challenge: 401 first, then a token for the tenant and resource the vault named', async () => {
    const value = await keyVaultStore().get('PARTNER_CENTER_CLIENT_SECRET');
    expect(value).toBe(CLIENT_SECRET);
    expect(vault.challenges).toBe(1);
    expect(vault.requests.map((r) => [r.authenticated, r.status])).toEqual([
      [false, 401],
      [true, 200],
    ]);
    expect(credential.tenants).toEqual([FAKE_KEY_VAULT_TENANT]);
  });

  it('reads the latest version or a given one, and set writes a new version', async () => {
    const store = keyVaultStore();
    await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rotated-token-1');
    await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rotated-token-2');
    const versions = vault.versions('partner-center-refresh-token');
    expect(versions.map((v) => v.value)).toEqual([REFRESH_TOKEN, 'rotated-token-1', 'rotated-token-2']);
    expect(await store.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe('rotated-token-2');

    const client = new SecretClient(vault.url, credential, clientOptions);
    const first = await client.getSecret('partner-center-refresh-token', { version: versions[0].version });
    expect(first.value).toBe(REFRESH_TOKEN);
    expect(first.properties.version).toBe(versions[0].version);
    expect(first.properties.createdOn).toBeInstanceOf(Date);
  });

  it('keeps tags with each version and reports when a version was created', async () => {
    const store = keyVaultStore();
    await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'tagged-token', { 'consent-generation': '1767225600000.ab' });
    const current = await store.read('PARTNER_CENTER_REFRESH_TOKEN');
    expect(current).toEqual({
      value: 'tagged-token',
      tags: { 'consent-generation': '1767225600000.ab' },
      createdOn: vault.versions('partner-center-refresh-token').at(-1)!.created * 1000,
    });
    const client = new SecretClient(vault.url, credential, clientOptions);
    const seeded = vault.versions('partner-center-refresh-token')[0];
    const first = await client.getSecret('partner-center-refresh-token', { version: seeded.version });
    expect(first.properties.tags).toBeUndefined(); // seeded without tags; a set without tags sends none
    await store.set('CALLBACK_SIGNING_SECRET', 'plain');
    expect(vault.versions('callback-signing-secret')[0].tags).toBeUndefined();
    // Key Vault refuses a tag value that is not a string; the fake too, and the error names no value
    await expect(
      client.setSecret('partner-center-refresh-token', 'x', { tags: { n: 1 as unknown as string } }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'BadParameter' });
  });

  it('maps 404 SecretNotFound to undefined', async () => {
    expect(await keyVaultStore().get('WEBHOOK_SIGNING_SECRET')).toBeUndefined();
    expect(vault.requests.at(-1)).toMatchObject({ status: 404, authenticated: true });
    const client = new SecretClient(vault.url, credential, clientOptions);
    await expect(client.getSecret('webhook-signing-secret')).rejects.toMatchObject({
      statusCode: 404,
      code: 'SecretNotFound',
    });
  });

  it('waits out a 429 with Retry-After and then reads', async () => {
    vault.injectFaults({ status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    expect(await keyVaultStore(5000).get('PARTNER_CENTER_CLIENT_SECRET')).toBe(CLIENT_SECRET);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(vault.reads).toBe(2);
  });

  it('retries a 503 and reads; persistent 5xx fails naming the vault and the secret, never a value', async () => {
    vault.injectFaults({ status: 503 });
    expect(await keyVaultStore().get('PARTNER_CENTER_CLIENT_SECRET')).toBe(CLIENT_SECRET);

    vault.injectFaults({ status: 500 }, { status: 500 }, { status: 500 });
    const error = await keyVaultStore()
      .get('PARTNER_CENTER_CLIENT_SECRET')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect((error as Error).message).toContain(vault.url);
    expect((error as Error).message).toContain('partner-center-client-secret');
    expect((error as Error).message).toContain('HTTP 500');
    expect((error as Error).message).not.toContain(CLIENT_SECRET);
  });

  it('a failed write names the vault and the secret, never the value', async () => {
    vault.injectFaults({ status: 403, code: 'Forbidden' });
    const error = await keyVaultStore()
      .set('CALLBACK_SIGNING_SECRET', 'new-callback-secret-value')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretWriteError);
    expect((error as Error).message).toMatch(/callback-signing-secret.*HTTP 403 Forbidden/);
    expect(JSON.stringify(error)).not.toContain('new-callback-secret-value');
    expect((error as Error).message).not.toContain('new-callback-secret-value');
  });

  it('caches reads for the TTL, then reads again', async () => {
    let now = 1_000_000;
    const store = cachedStore(() => now);
    await store.get('PARTNER_CENTER_CLIENT_SECRET');
    await store.get('PARTNER_CENTER_CLIENT_SECRET');
    now += 299_999;
    await store.get('PARTNER_CENTER_CLIENT_SECRET');
    expect(vault.reads).toBe(1);
    vault.seed('partner-center-client-secret', 'client-secret-rotated');
    now += 1;
    expect(await store.get('PARTNER_CENTER_CLIENT_SECRET')).toBe('client-secret-rotated');
    expect(vault.reads).toBe(2);
  });

  it('single-flight: 20 concurrent gets of a cold secret make one request', async () => {
    const store = cachedStore(Date.now);
    const values = await Promise.all(Array.from({ length: 20 }, () => store.get('PARTNER_CENTER_CLIENT_SECRET')));
    expect(new Set(values)).toEqual(new Set([CLIENT_SECRET]));
    expect(vault.reads).toBe(1);
  });

  it.each(['refuse', 'reset', 'hang'] as const)('a warm cache keeps serving through an outage (%s)', async (mode) => {
    let now = 1_000_000;
    const logger = new CapturingLogger();
    const store = cachedStore(() => now, logger);
    expect(await store.get('PARTNER_CENTER_CLIENT_SECRET')).toBe(CLIENT_SECRET);
    await vault.outage(mode);
    now += 10 * 60_000;
    expect(await store.get('PARTNER_CENTER_CLIENT_SECRET')).toBe(CLIENT_SECRET);
    expect(await store.get('PARTNER_CENTER_CLIENT_SECRET')).toBe(CLIENT_SECRET);
    expect(logger.lines.filter((l) => l.startsWith('warn'))).toHaveLength(1);
    expect(logger.lines[0]).toContain(vault.url);

    await vault.restore();
    vault.seed('partner-center-client-secret', 'after-outage');
    now += 60_000;
    expect(await store.get('PARTNER_CENTER_CLIENT_SECRET')).toBe('after-outage');
    expect(logger.lines.join('\n')).not.toContain(CLIENT_SECRET);
  });

  it('a hanging vault fails within the timeout, naming the vault and the secret', async () => {
    await vault.outage('hang');
    const started = Date.now();
    const error = await keyVaultStore()
      .get('PARTNER_CENTER_CLIENT_SECRET')
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect((error as Error).message).toBe(
      `Secret "partner-center-client-secret" could not be read from Key Vault ${vault.url}: timed out`,
    );
    await vault.restore();
  });

  it('a cold start during an outage fails naming the vault and the secret', async () => {
    await vault.outage('refuse');
    const store = cachedStore(Date.now);
    const error = await store.get('PARTNER_CENTER_REFRESH_TOKEN').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect(error).toMatchObject({ vaultUrl: vault.url, secretName: 'partner-center-refresh-token' });
    expect((error as Error).message).toBe(
      `Secret "partner-center-refresh-token" could not be read from Key Vault ${vault.url}: ECONNREFUSED`,
    );
  });

  it('writes the rotated refresh token at most once per interval, always the newest, and flushes on demand', async () => {
    let now = 1_000_000;
    const logs: string[] = [];
    const owner = tokenOwner(() => now, logs);
    try {
      let held = (await owner.current())!;
      expect(held.token).toBe(REFRESH_TOKEN);
      const rotate = async (next: string): Promise<void> => {
        owner.rotated(held, next);
        held = (await owner.current())!;
      };
      await rotate('rt-1');
      await owner.flush();
      expect(vault.writes).toBe(1);
      for (let i = 2; i <= 50; i += 1) {
        now += 60_000 / 50;
        await rotate(`rt-${i}`);
      }
      expect(vault.writes).toBe(1);
      expect(owner.hasPendingWrite).toBe(true);
      // The newest value is held in memory even after the read TTL: the vault still has an older one.
      now += 400_000;
      expect((await owner.current())?.token).toBe('rt-50');

      now = 1_000_000 + 3_600_000;
      await rotate('rt-51');
      await owner.flush(); // the interval had passed: the write had started already; flush waits for it
      expect(vault.writes).toBe(2);
      await rotate('rt-52');
      expect(vault.writes).toBe(2);
      await owner.flush();
      expect(vault.writes).toBe(3);
      expect(owner.hasPendingWrite).toBe(false);
      expect(vault.versions('partner-center-refresh-token').map((v) => v.value)).toEqual([
        REFRESH_TOKEN,
        'rt-1',
        'rt-51',
        'rt-52',
      ]);
      // every write-back carries the generation of the token it was rotated from (an untagged seed: its creation)
      const seeded = vault.versions('partner-center-refresh-token')[0];
      for (const version of vault.versions('partner-center-refresh-token').slice(1)) {
        expect(version.tags).toEqual({ 'consent-generation': String(seeded.created * 1000) });
      }
      expect(logs.join('\n')).not.toMatch(/rt-\d/);
    } finally {
      owner.dispose();
    }
  });

  it('a failed write-back keeps the token in memory and writes it later', async () => {
    const logs: string[] = [];
    const owner = tokenOwner(Date.now, logs, 0);
    try {
      const held = (await owner.current())!;
      await vault.outage('refuse');
      owner.rotated(held, 'rt-during-outage');
      await expect(owner.flush()).rejects.toThrow(/could not be written back/);
      expect(owner.hasPendingWrite).toBe(true);
      expect((await owner.current())?.token).toBe('rt-during-outage');
      await vault.restore();
      await owner.flush();
      expect(vault.versions('partner-center-refresh-token').at(-1)?.value).toBe('rt-during-outage');
      expect(logs.join('\n')).toContain(vault.url);
      expect(logs.join('\n')).not.toContain('rt-during-outage');
    } finally {
      owner.dispose();
    }
  });

  it('the factory logs once which store is in use, never a value', async () => {
    const logger = new CapturingLogger();
    const store = createSecretStore(
      { secrets: { keyVaultUrl: vault.url, cacheTtlMs: 300_000 } },
      { logger, credential, clientOptions, env: { AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001' } },
    );
    expect(store.kind).toBe('key-vault');
    expect(await store.get('PARTNER_CENTER_CLIENT_SECRET')).toBe(CLIENT_SECRET);
    expect(logger.lines).toEqual([`info secret store: key-vault ${vault.url}`]);
  });
});
