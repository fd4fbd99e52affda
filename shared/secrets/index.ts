export * from './types';
export * from './errors';
export { EnvironmentSecretStore } from './environment-store';
export { KeyVaultSecretStore, type KeyVaultSecretStoreOptions } from './key-vault-store';
export { CachedSecretStore, THROTTLED_SECRET, type CachedSecretStoreOptions } from './cached-store';
export { createSecretStore, type CreateSecretStoreOptions } from './factory';
export { getSecretList, parseSecretList } from './list';
