import type { SecretName, SecretStore, SecretTags, SecretVersion } from '../../shared/secrets/types';

/**
 * An in-memory SecretStore for tests: records every write, and can be told to fail writes (a Key Vault outage) or
 * to hold writes until released (a slow vault), so tests can prove callers never wait for a write-back. A value put
 * straight into `values` (as an operator would store it) has no tags.
 */
export class MemorySecretStore implements SecretStore {
  readonly kind = 'memory';
  readonly values = new Map<SecretName, string>();
  readonly writes: { name: SecretName; value: string; tags: SecretTags }[] = [];
  getCalls = 0;
  /** While > 0, each set fails (and decrements). */
  failNextSets = 0;
  /** When set, each set waits for this promise before completing. */
  holdSets: Promise<void> | undefined;
  private readonly lastWrite = new Map<SecretName, { value: string; tags: SecretTags }>();

  constructor(initial: Partial<Record<SecretName, string>> = {}) {
    for (const [name, value] of Object.entries(initial)) {
      if (value !== undefined) this.values.set(name as SecretName, value);
    }
  }

  get(name: SecretName): Promise<string | undefined> {
    this.getCalls++;
    return Promise.resolve(this.values.get(name));
  }

  read(name: SecretName): Promise<SecretVersion | undefined> {
    this.getCalls++;
    const value = this.values.get(name);
    if (value === undefined) return Promise.resolve(undefined);
    // Tags belong to the version they were written with: a value changed by hand since has none.
    const written = this.lastWrite.get(name);
    return Promise.resolve({ value, tags: written?.value === value ? written.tags : {}, createdOn: undefined });
  }

  async set(name: SecretName, value: string, tags: SecretTags = {}): Promise<void> {
    if (this.holdSets) await this.holdSets;
    if (this.failNextSets > 0) {
      this.failNextSets--;
      throw new Error(`memory store: write of ${name} refused (simulated outage)`);
    }
    this.values.set(name, value);
    this.lastWrite.set(name, { value, tags });
    this.writes.push({ name, value, tags });
  }
}
