import { ConfigError, loadConfig, SETTING_NAMES } from '../../shared/config';

const base = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  PARTNER_CENTER_TENANT_ID: '11111111-2222-3333-4444-555555555555',
  PARTNER_CENTER_CLIENT_ID: '66666666-7777-8888-9999-000000000000',
  POLL_SCHEDULE: '0 */5 * * * *',
};

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected loadConfig to fail');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(base);
    expect(config.partnerCenter.apiUrl).toBe('https://api.partnercenter.microsoft.com');
    expect(config.partnerCenter.authorityHost).toBe('https://login.microsoftonline.com');
    expect(config.secrets.keyVaultUrl).toBeUndefined();
    expect(config.billingCallbackUrl).toBeUndefined();
    expect(config.storage).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
  });

  it.each(['PARTNER_CENTER_TENANT_ID', 'PARTNER_CENTER_CLIENT_ID', 'AzureWebJobsStorage', 'POLL_SCHEDULE'])(
    'names the missing required setting %s',
    (name) => {
      const env: Record<string, string> = { ...base };
      delete env[name];
      const error = failure(env);
      expect(error.setting).toBe(name);
      expect(error.message).toContain(name);
    },
  );

  it.each([
    ['PARTNER_CENTER_CLIENT_ID', 'not-a-guid'],
    ['PARTNER_CENTER_API_URL', 'not a url'],
    ['PARTNER_CENTER_API_URL', 'http://partner.example.com'],
    ['POLL_SCHEDULE', '*/5 * * * *'],
    ['POLL_CONCURRENCY', 'many'],
    ['POLL_CONCURRENCY', '0'],
    ['TABLE_NAME_PREFIX', '1abc'],
    ['BILLING_CALLBACK_URL', 'ftp://billing.example.com'],
  ])('rejects a malformed %s (%s) by name', (name, value) => {
    expect(failure({ ...base, [name]: value }).setting).toBe(name);
  });

  it('accepts plain http only for loopback hosts', () => {
    const config = loadConfig({ ...base, PARTNER_CENTER_API_URL: 'http://127.0.0.1:8090/' });
    expect(config.partnerCenter.apiUrl).toBe('http://127.0.0.1:8090');
  });

  it('uses identity-based storage when only the service URIs are set', () => {
    const { AzureWebJobsStorage: _, ...rest } = base;
    const config = loadConfig({
      ...rest,
      AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.windows.net',
      AzureWebJobsStorage__queueServiceUri: 'https://acct.queue.core.windows.net',
      AzureWebJobsStorage__clientId: 'abc',
    });
    expect(config.storage).toEqual({
      kind: 'identity',
      tableServiceUri: 'https://acct.table.core.windows.net',
      queueServiceUri: 'https://acct.queue.core.windows.net',
      clientId: 'abc',
    });
  });

  it('rejects an interval cap below the interval start', () => {
    expect(failure({ ...base, POLL_MIN_INTERVAL_SECONDS: '600', POLL_MAX_INTERVAL_SECONDS: '60' }).setting).toBe(
      'POLL_MAX_INTERVAL_SECONDS',
    );
  });

  it('requires signed webhooks unless a local stack opts out; the opt-out is refused in Azure', () => {
    expect(loadConfig(base).webhookSignatures).toBe('required');
    expect(loadConfig({ ...base, WEBHOOK_SIGNATURES: 'disabled' }).webhookSignatures).toBe('disabled');
    expect(failure({ ...base, WEBHOOK_SIGNATURES: 'off' }).setting).toBe('WEBHOOK_SIGNATURES');
    const inAzure = failure({ ...base, WEBHOOK_SIGNATURES: 'disabled', WEBSITE_INSTANCE_ID: 'a1b2c3' });
    expect(inAzure.setting).toBe('WEBHOOK_SIGNATURES');
    expect(inAzure.message).toContain('WEBSITE_INSTANCE_ID is set');
    expect(loadConfig({ ...base, WEBSITE_INSTANCE_ID: 'a1b2c3' }).webhookSignatures).toBe('required');
  });

  it.each(['WEBHOOK_SIGNING_SECRET', 'CALLBACK_SIGNING_SECRET'])(
    'refuses a %s that is not whsec_ and 24 random bytes or more, naming the setting and not the value',
    (name) => {
      const good = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
      expect(() => loadConfig({ ...base, [name]: good })).not.toThrow();
      expect(() =>
        loadConfig({ ...base, [name]: `${good}, whsec_${Buffer.alloc(24, 2).toString('base64')}` }),
      ).not.toThrow();
      for (const bad of [
        'a-long-but-plain-passphrase-of-forty-chars',
        `whsec_${Buffer.alloc(16, 3).toString('base64')}`,
        `${good},short`,
      ]) {
        const error = failure({ ...base, [name]: bad });
        expect(error.setting).toBe(name);
        expect(error.message).toMatch(/whsec_ followed by the base64 of 24 to 64 random bytes/);
        expect(error.message).not.toContain(bad.split(',').at(-1));
      }
      // In Key Vault the value is not an environment setting: it is checked where it is read.
      expect(() => loadConfig({ ...base, KEY_VAULT_URL: 'https://kv.vault.azure.net', [name]: 'short' })).not.toThrow();
    },
  );

  it('lists every setting once', () => {
    expect(new Set(SETTING_NAMES).size).toBe(SETTING_NAMES.length);
  });
});
