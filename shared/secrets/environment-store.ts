import type { SecretName, SecretStore } from './types';

/**
 * Local development: each secret is the environment variable of the same name. `set` changes only this process's
 * value (kept in memory, `process.env` is left alone): locally a rotated refresh token lives in memory only and is
 * lost at restart, when the one in the environment (still valid for its 90 days) is used again.
 */
export class EnvironmentSecretStore implements SecretStore {
  readonly kind = 'environment';
  private readonly overrides = new Map<SecretName, string>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  get(name: SecretName): Promise<string | undefined> {
    const value = this.overrides.get(name) ?? this.env[name]?.trim();
    return Promise.resolve(value ? value : undefined);
  }

  set(name: SecretName, value: string): Promise<void> {
    this.overrides.set(name, value);
    return Promise.resolve();
  }
}
