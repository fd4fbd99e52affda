import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type SettingName } from '../../shared/config';

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

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

function httpsUrl(name: SettingName, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, 'must be an absolute URL');
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError(name, 'must use https (plain http is accepted only for localhost)');
  }
  return value.replace(/\/+$/, '');
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
  const tenantId = read('PARTNER_CENTER_TENANT_ID');
  if (!tenantId) throw new ConfigError('PARTNER_CENTER_TENANT_ID', 'is required but not set');
  if (!GUID.test(tenantId) && !DOMAIN.test(tenantId)) {
    throw new ConfigError('PARTNER_CENTER_TENANT_ID', 'must be a tenant GUID or a domain name');
  }
  const clientId = read('PARTNER_CENTER_CLIENT_ID');
  if (!clientId) throw new ConfigError('PARTNER_CENTER_CLIENT_ID', 'is required but not set');
  if (!GUID.test(clientId)) throw new ConfigError('PARTNER_CENTER_CLIENT_ID', 'must be a GUID');
  const authorityHost = httpsUrl(
    'PARTNER_CENTER_AUTHORITY_HOST',
    read('PARTNER_CENTER_AUTHORITY_HOST') ?? 'https://login.microsoftonline.com',
  );
  const vault = read('KEY_VAULT_URL');
  return {
    tenantId,
    clientId,
    authorityHost,
    keyVaultUrl: vault ? httpsUrl('KEY_VAULT_URL', vault) : undefined,
    clientSecretFromEnv: read('PARTNER_CENTER_CLIENT_SECRET'),
    sources: found,
  };
}
