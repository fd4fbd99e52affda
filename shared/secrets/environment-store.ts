import type { SecretName, SecretStore, SecretTags, SecretVersion } from './types';

/**
 * Local development: each secret is the environment variable of the same name. `set` changes only this process's
 * value (kept in memory with its tags, `process.env` is left alone): locally a rotated refresh token lives in memory
 * only and is lost at restart, when the one in the environment (still valid for its 90 days) is used again.
 */
export class EnvironmentSecretStore implements SecretStore {
  readonly kind = 'environment';
  private readonly overrides = new Map<SecretName, SecretVersion>();

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly now: () => number = Date.now,
  ) {}

  async get(name: SecretName): Promise<string | undefined> {
    return (await this.read(name))?.value || undefined;
  }

  read(name: SecretName): Promise<SecretVersion | undefined> {
    const override = this.overrides.get(name);
    if (override) return Promise.resolve(override);
    const value = this.env[name]?.trim();
    return Promise.resolve(value ? { value, tags: {}, createdOn: undefined } : undefined);
  }

  set(name: SecretName, value: string, tags: SecretTags = {}): Promise<void> {
    this.overrides.set(name, { value, tags: { ...tags }, createdOn: this.now() });
    return Promise.resolve();
  }
}
