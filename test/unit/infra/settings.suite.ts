import { ConfigError, loadConfig, SECRET_SETTING_NAMES, SETTING_NAMES } from '../../../shared/config';
import { asNumbers, asObject, declaration, get, isExpression, readBicep, ternary, valueOf } from './bicep';

/**
 * Settings the app reads that infra deliberately leaves unset in Azure, each with its reason. Anything else the
 * config module reads must be set by infra/app/api.bicep.
 */
const UNSET_IN_AZURE: Record<string, string> = {
  AzureWebJobsStorage: 'a connection string needs a shared key; Azure uses the identity-based __ settings instead',
  TABLE_NAME_PREFIX: 'one environment per storage account in Azure, so no prefix is needed',
};

/** Settings infra sets for the Functions host and the Azure SDKs rather than for shared/config.ts. */
const PLATFORM_SETTINGS: Record<string, string> = {
  AzureWebJobsStorage__credential: 'host: identity-based AzureWebJobsStorage',
  AzureWebJobsStorage__blobServiceUri: 'host: blob endpoint for leases and the deployment package',
  AZURE_CLIENT_ID: '@azure/identity: which user-assigned identity DefaultAzureCredential uses',
};

const api = readBicep('infra/app/api.bicep');
const appSettings = asObject(valueOf(api, 'var', 'appSettings'));
const platformSettings = asObject(valueOf(api, 'var', 'platformSettings'));
const functionApp = asObject(valueOf(api, 'resource', 'functionApp'));

/** What the app setting expressions resolve to in Azure, with realistic values. */
const RESOLVED: Record<string, string> = {
  identityClientId: '6f0a0f43-2f2b-4c8a-9c55-0d5b3a0c1f11',
  'stg.properties.primaryEndpoints.queue': 'https://stabc.queue.core.windows.net/',
  'stg.properties.primaryEndpoints.table': 'https://stabc.table.core.windows.net/',
  'applicationInsights.properties.ConnectionString':
    'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
  keyVaultUri: 'https://kv-abc.vault.azure.net/',
  partnerCenterApiUrl: 'https://api.partnercenter.microsoft.com',
  partnerCenterAuthorityHost: 'https://login.microsoftonline.com',
  partnerCenterTenantId: 'contoso.onmicrosoft.com',
  partnerCenterClientId: '11111111-2222-3333-4444-555555555555',
  // No callback URL given: the setting is empty (its Key Vault reference form has a test of its own below).
  billingCallbackUrlSetting: '',
  pollSchedule: '0 */5 * * * *',
};

/** The environment the app sees in Azure: every app setting with its expression resolved. */
function resolvedEnvironment(values: Record<string, string>): Record<string, string> {
  const resolve = (expr: string): string => {
    if (expr in values) return values[expr];
    // An interpolated string: '...${name}...'
    if (/^'.*'$/.test(expr)) return expr.slice(1, -1).replace(/\$\{(\w+)\}/g, (_, name: string) => resolve(name));
    throw new Error(`no realistic value for ${expr}`);
  };
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(appSettings)) {
    if (typeof value === 'string') env[name] = value;
    else if (isExpression(value)) env[name] = resolve(value.expr);
    else throw new Error(`unexpected value for ${name}: ${JSON.stringify(value)}`);
  }
  return env;
}

describe('app settings in infra/app/api.bicep', () => {
  it('sets every non-secret setting the config module reads, except the ones documented as unset', () => {
    const expected = SETTING_NAMES.filter((name) => !SECRET_SETTING_NAMES.includes(name) && !(name in UNSET_IN_AZURE));
    expect(Object.keys(appSettings).sort()).toEqual([...expected].sort());
  });

  it('lists as unset only settings the config module really reads', () => {
    for (const name of Object.keys(UNSET_IN_AZURE)) expect(SETTING_NAMES).toContain(name);
  });

  it('sets only platform settings from the allow-list besides the app settings', () => {
    expect(Object.keys(platformSettings).sort()).toEqual(Object.keys(PLATFORM_SETTINGS).sort());
    for (const name of Object.keys(platformSettings)) expect(SETTING_NAMES).not.toContain(name);
  });

  it('never puts a secret or a storage connection string in app settings', () => {
    const all = { ...appSettings, ...platformSettings };
    for (const secret of SECRET_SETTING_NAMES) expect(all).not.toHaveProperty(secret);
    expect(all).not.toHaveProperty('AzureWebJobsStorage');
    expect(JSON.stringify(all)).not.toMatch(/AccountKey|InstrumentationKey=|listKeys/i);
  });

  it('connects to storage with the user-assigned identity', () => {
    expect(platformSettings.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(appSettings.AzureWebJobsStorage__clientId).toEqual({ expr: 'identityClientId' });
    expect(platformSettings.AZURE_CLIENT_ID).toEqual({ expr: 'identityClientId' });
    expect(appSettings.AzureWebJobsStorage__queueServiceUri).toEqual({ expr: 'stg.properties.primaryEndpoints.queue' });
    expect(appSettings.AzureWebJobsStorage__tableServiceUri).toEqual({ expr: 'stg.properties.primaryEndpoints.table' });
    expect(platformSettings.AzureWebJobsStorage__blobServiceUri).toEqual({
      expr: 'stg.properties.primaryEndpoints.blob',
    });
  });

  it('authenticates telemetry with Entra ID as the app identity', () => {
    expect(appSettings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toEqual({
      expr: "'ClientId=${identityClientId};Authorization=AAD'",
    });
  });

  it('applies both setting groups to the function app', () => {
    const config = asObject(get(functionApp, 'resource:settings'));
    expect(config.name).toBe('appsettings');
    expect(config.properties).toEqual({ expr: 'union(appSettings, platformSettings)' });
  });

  it('gives the app a configuration loadConfig accepts, for every poll interval main.bicep allows', () => {
    const main = readBicep('infra/main.bicep');
    const allowed = asNumbers(declaration(main, 'param', 'pollIntervalMinutes').decoratorArgs.allowed[0]);
    expect(allowed).toContain(5);
    const apiModule = asObject(valueOf(main, 'module', 'api'));
    const scheduleTemplate = get(apiModule, 'params.pollSchedule');
    expect(scheduleTemplate).toEqual({ expr: "'0 */${pollIntervalMinutes} * * * *'" });
    for (const minutes of allowed) {
      const env = resolvedEnvironment({ ...RESOLVED, pollSchedule: `0 */${String(minutes)} * * * *` });
      const config = loadConfig(env);
      expect(config.storage.kind).toBe('identity');
      expect(config.secrets.keyVaultUrl).toBe('https://kv-abc.vault.azure.net');
      expect(config.poll.schedule).toBe(`0 */${String(minutes)} * * * *`);
      expect(config.billingCallbackUrl).toBeUndefined();
    }
  });

  it('sets BILLING_CALLBACK_URL to a Key Vault reference to the secret holding the URL, never to the URL', () => {
    expect(appSettings.BILLING_CALLBACK_URL).toEqual({ expr: 'billingCallbackUrlSetting' });
    expect(ternary(valueOf(api, 'var', 'billingCallbackUrlSetting'))).toEqual({
      condition: 'empty(billingCallbackUrlSecretUri)',
      whenTrue: '',
      whenFalse: { expr: "'@Microsoft.KeyVault(SecretUri=${billingCallbackUrlSecretUri})'" },
    });
    const secretUri = 'https://kv-abc.vault.azure.net/secrets/billing-callback-url';
    const reference = `@Microsoft.KeyVault(SecretUri=${secretUri})`;
    // The platform resolves the reference to the secret's value: the app reads the URL as a plain setting.
    const url = 'https://billing.example.com/upgrade-callbacks?code=k3y';
    const resolved = loadConfig(resolvedEnvironment({ ...RESOLVED, billingCallbackUrlSetting: url }));
    expect(resolved.billingCallbackUrl).toBe(url);
    // A reference the platform could not resolve (no access yet, vault unreachable) reaches the app as its text: the
    // app refuses to start, naming the setting, rather than posting results anywhere.
    const unresolved = resolvedEnvironment({ ...RESOLVED, billingCallbackUrlSetting: reference });
    expect(() => loadConfig(unresolved)).toThrow(ConfigError);
    expect(() => loadConfig(unresolved)).toThrow(/^Setting BILLING_CALLBACK_URL /);
  });
});
