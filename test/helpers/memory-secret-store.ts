import type { SecretName, SecretStore } from '../../shared/secrets/types';

/**
 * An in-memory SecretStore for tests: records every write, and can be told to fail writes (a Key Vault outage) or
 * to hold writes until released (a slow vault), so tests can prove callers never wait for a write-back.
 */
export class MemorySecretStore implements SecretStore {
  readonly kind = 'memory';
  readonly values = new Map<SecretName, string>();
  readonly writes: { name: SecretName; value: string }[] = [];
  getCalls = 0;
  /** While > 0, each set fails (and decrements). */
  failNextSets = 0;
  /** When set, each set waits for this promise before completing. */
  holdSets: Promise<void> | undefined;

  constructor(initial: Partial<Record<SecretName, string>> = {}) {
    for (const [name, value] of Object.entries(initial)) {
      if (value !== undefined) this.values.set(name as SecretName, value);
    }
  }

  get(name: SecretName): Promise<string | undefined> {
    this.getCalls++;
    return Promise.resolve(this.values.get(name));
  }

  async set(name: SecretName, value: string): Promise<void> {
    if (this.holdSets) await this.holdSets;
    if (this.failNextSets > 0) {
      this.failNextSets--;
      throw new Error(`memory store: write of ${name} refused (simulated outage)`);
    }
    this.values.set(name, value);
    this.writes.push({ name, value });
  }
}
