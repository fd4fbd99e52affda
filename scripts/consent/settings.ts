import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, partnerIdentity, urlSetting, type SettingName } from '../../shared/config';

/** The settings the consent reads, by the app's own setting names (shared/config.ts). */
export interface ConsentSettings {
  tenantId: string;
  clientId: string;
  authorityHost: string;
  keyVaultUrl: string | undefined;
  /** From the environment or local.settings.json; in Azure the secret lives in Key Vault instead. */
  clientSecretFromEnv: string | undefined;
  /** Where each value came from, for the run's first lines (names and sources, never values). */
  sources: Partial<Record<SettingName, string>>;
}

type Values = Record<string, string | undefined>;
export interface SettingsSource {
  name: string;
  values: Values;
}

/** `KEY="value"` lines as azd writes them to `.azure/<env>/.env`. */
export function parseDotEnv(text: string): Values {
  const values: Values = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    let value = match[2];
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value.slice(1, -1).replace(/\\(["\\])/g, '$1');
    } else if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) {
      value = value.slice(1, -1);
    }
    values[match[1]] = value;
  }
  return values;
}

/**
 * Where the consent looks for settings, first match wins: the environment; the azd environment (`azd up` writes the
 * deployment's outputs there: KEY_VAULT_URL, PARTNER_CENTER_TENANT_ID, ...); local.settings.json (local development).
 */
export function settingsSources(options: {
  cwd: string;
  env: NodeJS.ProcessEnv;
  azdEnvironment?: string;
}): SettingsSource[] {
  const sources: SettingsSource[] = [{ name: 'environment', values: options.env }];
  const azdDir = join(options.cwd, '.azure');
  let azdName = options.azdEnvironment ?? options.env.AZURE_ENV_NAME;
  if (!azdName && existsSync(join(azdDir, 'config.json'))) {
    const config = JSON.parse(readFileSync(join(azdDir, 'config.json'), 'utf8')) as { defaultEnvironment?: unknown };
    if (typeof config.defaultEnvironment === 'string') azdName = config.defaultEnvironment;
  }
  if (azdName) {
    const file = join(azdDir, azdName, '.env');
    if (existsSync(file))
      sources.push({ name: `azd environment "${azdName}"`, values: parseDotEnv(readFileSync(file, 'utf8')) });
    else if (options.azdEnvironment)
      throw new ConfigError('AZURE_ENV_NAME', `names azd environment "${azdName}", but ${file} does not exist`);
  }
  const local = join(options.cwd, 'local.settings.json');
  if (existsSync(local)) {
    const json = JSON.parse(readFileSync(local, 'utf8')) as { Values?: Values };
    sources.push({ name: 'local.settings.json', values: json.Values ?? {} });
  }
  return sources;
}

/** Reads and checks the consent's settings (the same names and rules as the app's config module). */
export function readConsentSettings(sources: SettingsSource[]): ConsentSettings {
  const found: Partial<Record<SettingName, string>> = {};
  const read = (name: SettingName): string | undefined => {
    for (const source of sources) {
      const value = source.values[name]?.trim();
      if (value) {
        found[name] = source.name;
        return value;
      }
    }
    return undefined;
  };
  // One view of the settings, first source wins, validated by the app's own rules (shared/config.ts).
  const names: SettingName[] = [
    'PARTNER_CENTER_TENANT_ID',
    'PARTNER_CENTER_CLIENT_ID',
    'PARTNER_CENTER_AUTHORITY_HOST',
    'KEY_VAULT_URL',
    'PARTNER_CENTER_CLIENT_SECRET',
  ];
  const env = Object.fromEntries(names.map((name) => [name, read(name)]));
  const { tenantId, clientId } = partnerIdentity(env);
  return {
    tenantId,
    clientId,
    authorityHost: urlSetting(env, 'PARTNER_CENTER_AUTHORITY_HOST', 'https://login.microsoftonline.com')!,
    keyVaultUrl: urlSetting(env, 'KEY_VAULT_URL'),
    clientSecretFromEnv: env.PARTNER_CENTER_CLIENT_SECRET,
    sources: found,
  };
}
