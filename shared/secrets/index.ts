export * from './types';
export * from './errors';
export { EnvironmentSecretStore } from './environment-store';
export { KeyVaultSecretStore, KEY_VAULT_TIMEOUT_MS, type KeyVaultSecretStoreOptions } from './key-vault-store';
export { CachedSecretStore, type CachedSecretStoreOptions } from './cached-store';
export { createSecretStore, type CreateSecretStoreOptions } from './factory';
