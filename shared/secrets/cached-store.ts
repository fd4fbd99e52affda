import type { SecretName, SecretStore, SecretTags, SecretVersion, SecretsLogger } from './types';

/** How long a stale value is served after a failed refresh before the vault is asked again. */
const DEFAULT_STALE_RETRY_MS = 30_000;

export interface CachedSecretStoreOptions {
  /** How long a read is served from memory (`config.secrets.cacheTtlMs`). */
  ttlMs: number;
  logger?: SecretsLogger;
  /** Milliseconds since the epoch; tests move it. */
  clock?: () => number;
  staleRetryMs?: number;
}

interface Entry {
  value: string | undefined;
  expiresAt: number;
}

/**
 * An in-memory cache in front of a store (Key Vault): reads are cached for a TTL and single-flight (concurrent gets
 * of one secret share one request); when a refresh fails, a warm cache keeps serving its (stale) value so a Key
 * Vault outage does not stop the work; a cold read that fails throws the inner store's error (`SecretUnavailableError`
 * naming the vault and the secret). Writes go straight through. `read` (a version with its tags) is never cached:
 * its one reader, the refresh token's owner (shared/partner-center/consent.ts), decides itself when to look again.
 */
export class CachedSecretStore implements SecretStore {
  readonly kind: string;
  private readonly cache = new Map<SecretName, Entry>();
  private readonly inflight = new Map<SecretName, Promise<string | undefined>>();
  private readonly inOutage = new Set<SecretName>();
  private readonly clock: () => number;
  private readonly staleRetryMs: number;

  constructor(
    private readonly inner: SecretStore,
    private readonly options: CachedSecretStoreOptions,
  ) {
    this.kind = inner.kind;
    this.clock = options.clock ?? Date.now;
    this.staleRetryMs = options.staleRetryMs ?? DEFAULT_STALE_RETRY_MS;
  }

  get(name: SecretName): Promise<string | undefined> {
    const entry = this.cache.get(name);
    if (entry && this.clock() < entry.expiresAt) return Promise.resolve(entry.value);
    let read = this.inflight.get(name);
    if (!read) {
      read = this.refresh(name, entry).finally(() => this.inflight.delete(name));
      this.inflight.set(name, read);
    }
    return read;
  }

  read(name: SecretName): Promise<SecretVersion | undefined> {
    return this.inner.read(name);
  }

  private async refresh(name: SecretName, stale: Entry | undefined): Promise<string | undefined> {
    try {
      const value = await this.inner.get(name);
      this.cache.set(name, { value, expiresAt: this.clock() + this.options.ttlMs });
      if (this.inOutage.delete(name)) this.options.logger?.info(`secret store: ${name} read again after an outage`);
      return value;
    } catch (error) {
      if (!stale) throw error;
      if (!this.inOutage.has(name)) {
        this.inOutage.add(name);
        const reason = error instanceof Error ? error.message : 'unknown error';
        this.options.logger?.warn(`secret store: serving the cached ${name} while its refresh fails (${reason})`);
      }
      // Keep serving the stale value, and do not ask the failing store again on every call.
      this.cache.set(name, { value: stale.value, expiresAt: this.clock() + this.staleRetryMs });
      return stale.value;
    }
  }

  async set(name: SecretName, value: string, tags?: SecretTags): Promise<void> {
    await this.inner.set(name, value, tags);
    this.cache.set(name, { value, expiresAt: this.clock() + this.options.ttlMs });
  }
}
