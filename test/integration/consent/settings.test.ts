import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../shared/config';
import { parseConsentArgs, UsageError } from '../../../scripts/consent/args';
import { explain } from '../../../scripts/consent/consent';
import { OAuthError } from '../../../scripts/consent/token-endpoint';
import { parseDotEnv, readConsentSettings, settingsSources } from '../../../scripts/consent/settings';

const TENANT = '5f1a3c2e-7b9d-4e6f-8a1b-2c3d4e5f6a7b';
const CLIENT = '0d4b8f1e-2a6c-4e3d-9b7a-1c5e8f2d4a6b';

describe('consent settings', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'consent-settings-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function azdEnvironment(name: string, lines: string[], isDefault = true): void {
    mkdirSync(join(dir, '.azure', name), { recursive: true });
    writeFileSync(join(dir, '.azure', name, '.env'), `${lines.join('\n')}\n`);
    if (isDefault)
      writeFileSync(join(dir, '.azure', 'config.json'), JSON.stringify({ version: 1, defaultEnvironment: name }));
  }

  it('reads the dotenv file azd writes, with quoted values', () => {
    expect(parseDotEnv('A="x"\nB="with \\"quote\\""\n# comment\nC=plain\n')).toEqual({
      A: 'x',
      B: 'with "quote"',
      C: 'plain',
    });
  });

  it('after azd up: takes the vault and the app registration from the default azd environment', () => {
    azdEnvironment('prod', [
      `PARTNER_CENTER_TENANT_ID="${TENANT}"`,
      `PARTNER_CENTER_CLIENT_ID="${CLIENT}"`,
      'KEY_VAULT_URL="https://kv-abc.vault.azure.net/"',
    ]);
    const settings = readConsentSettings(settingsSources({ cwd: dir, env: {} }));
    expect(settings).toMatchObject({
      tenantId: TENANT,
      clientId: CLIENT,
      authorityHost: 'https://login.microsoftonline.com',
      keyVaultUrl: 'https://kv-abc.vault.azure.net',
    });
    expect(settings.sources.KEY_VAULT_URL).toBe('azd environment "prod"');
  });

  it('the environment wins over azd, and azd over local.settings.json', () => {
    azdEnvironment('dev', [`PARTNER_CENTER_TENANT_ID="${TENANT}"`, `PARTNER_CENTER_CLIENT_ID="${CLIENT}"`]);
    writeFileSync(
      join(dir, 'local.settings.json'),
      JSON.stringify({
        Values: { PARTNER_CENTER_CLIENT_ID: 'ignored', PARTNER_CENTER_AUTHORITY_HOST: 'http://127.0.0.1:8090' },
      }),
    );
    const settings = readConsentSettings(
      settingsSources({ cwd: dir, env: { PARTNER_CENTER_TENANT_ID: 'contoso.onmicrosoft.com' } }),
    );
    expect(settings.tenantId).toBe('contoso.onmicrosoft.com');
    expect(settings.clientId).toBe(CLIENT);
    expect(settings.authorityHost).toBe('http://127.0.0.1:8090');
    expect(settings.keyVaultUrl).toBeUndefined();
    expect(settings.sources).toEqual({
      PARTNER_CENTER_TENANT_ID: 'environment',
      PARTNER_CENTER_CLIENT_ID: 'azd environment "dev"',
      PARTNER_CENTER_AUTHORITY_HOST: 'local.settings.json',
    });
  });

  it('names the setting that is missing or malformed', () => {
    expect(() => readConsentSettings([{ name: 'environment', values: {} }])).toThrow(
      new ConfigError('PARTNER_CENTER_TENANT_ID', 'is required but not set'),
    );
    expect(() =>
      readConsentSettings([
        { name: 'environment', values: { PARTNER_CENTER_TENANT_ID: TENANT, PARTNER_CENTER_CLIENT_ID: 'not-a-guid' } },
      ]),
    ).toThrow(/PARTNER_CENTER_CLIENT_ID must be a GUID/);
    expect(() =>
      readConsentSettings([
        {
          name: 'environment',
          values: {
            PARTNER_CENTER_TENANT_ID: TENANT,
            PARTNER_CENTER_CLIENT_ID: CLIENT,
            KEY_VAULT_URL: 'http://kv.example.com',
          },
        },
      ]),
    ).toThrow(/KEY_VAULT_URL must use https/);
  });

  it('an explicitly named azd environment must exist', () => {
    expect(() => settingsSources({ cwd: dir, env: {}, azdEnvironment: 'nope' })).toThrow(/azd environment "nope"/);
  });
});

describe('consent command line', () => {
  it('defaults to the browser flow on a free port', () => {
    expect(parseConsentArgs([])).toEqual({
      deviceCode: false,
      open: false,
      printToken: false,
      allowWithoutMfa: false,
      port: 0,
      timeoutSeconds: 300,
      azdEnvironment: undefined,
      help: false,
    });
  });

  it('reads every option', () => {
    expect(
      parseConsentArgs([
        '--device-code',
        '--open',
        '--print-token',
        '--allow-without-mfa',
        '--port',
        '8400',
        '--timeout',
        '60',
        '--azd-env',
        'prod',
      ]),
    ).toMatchObject({
      deviceCode: true,
      open: true,
      printToken: true,
      allowWithoutMfa: true,
      port: 8400,
      timeoutSeconds: 60,
      azdEnvironment: 'prod',
    });
  });

  it('refuses unknown options and bad numbers', () => {
    expect(() => parseConsentArgs(['--tokn'])).toThrow(UsageError);
    expect(() => parseConsentArgs(['--port', '70000'])).toThrow(/--port must be a whole number from 0 to 65535/);
    expect(() => parseConsentArgs(['--timeout', 'soon'])).toThrow(UsageError);
  });
});

describe('consent error explanations', () => {
  it.each([
    [
      new OAuthError('invalid_client', 'AADSTS7000215: Invalid client secret provided.', 401, [7000215]),
      /client secret was refused/,
    ],
    [new OAuthError('invalid_client', 'AADSTS7000218: ...', 401, [7000218]), /set PARTNER_CENTER_CLIENT_SECRET/],
    [new OAuthError('invalid_request', 'AADSTS700025: Client is public ...', 400, [700025]), /public client/],
    [new OAuthError('invalid_request', 'AADSTS50011: The redirect URI ...', 400, [50011]), /add http:\/\/localhost/],
    [new OAuthError('expired_token', 'expired', 400), /expired before the sign-in completed/],
    [new OAuthError('unauthorized_client', 'AADSTS700016: not found', 400, [700016]), /Allow public client flows/],
    [new OAuthError('server_error', 'AADSTS90000: something', 500), /Entra ID refused the request \(server_error/],
  ])('%s', (error, expected) => {
    expect(explain(error)).toMatch(expected);
  });
});
