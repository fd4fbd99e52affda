import type { TokenCredential } from '@azure/core-auth';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import type { AppConfig } from '../config';
import { CachedSecretStore } from './cached-store';
import { EnvironmentSecretStore } from './environment-store';
import { KeyVaultSecretStore } from './key-vault-store';
import type { SecretsLogger } from './types';

export interface CreateSecretStoreOptions {
  logger: SecretsLogger;
  /** Replaces `DefaultAzureCredential` (tests). */
  credential?: TokenCredential;
  /** Passed to `SecretClient` (tests: insecure loopback, no challenge resource check, short retries). */
  clientOptions?: SecretClientOptions;
  env?: NodeJS.ProcessEnv;
  clock?: () => number;
}

/**
 * The app's secret store: Key Vault (cached) when `KEY_VAULT_URL` is set, otherwise environment variables. Logs once
 * which one is in use, never a value. With a user-assigned identity, `AZURE_CLIENT_ID` selects it.
 */
export function createSecretStore(
  config: { secrets: Pick<AppConfig['secrets'], 'keyVaultUrl' | 'cacheTtlMs'> },
  options: CreateSecretStoreOptions,
): CachedSecretStore {
  const env = options.env ?? process.env;
  const { keyVaultUrl, cacheTtlMs } = config.secrets;
  const inner = keyVaultUrl
    ? new KeyVaultSecretStore(keyVaultUrl, {
        credential: options.credential,
        managedIdentityClientId: env.AZURE_CLIENT_ID?.trim() || undefined,
        clientOptions: options.clientOptions,
      })
    : new EnvironmentSecretStore(env, options.clock);
  options.logger.info(`secret store: ${keyVaultUrl ? `key-vault ${keyVaultUrl}` : 'environment'}`);
  return new CachedSecretStore(inner, {
    ttlMs: keyVaultUrl ? cacheTtlMs : 0,
    logger: options.logger,
    clock: options.clock,
  });
}
