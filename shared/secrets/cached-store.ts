import type { SecretName, SecretStore, SecretsLogger } from './types';

/** The secret that rotates on every access-token refresh; its write-back to the vault is throttled. */
export const THROTTLED_SECRET: SecretName = 'PARTNER_CENTER_REFRESH_TOKEN';

/** How long a stale value is served after a failed refresh before the vault is asked again. */
const DEFAULT_STALE_RETRY_MS = 30_000;

export interface CachedSecretStoreOptions {
  /** How long a read is served from memory (`config.secrets.cacheTtlMs`). */
  ttlMs: number;
  /** Least time between two vault writes of the refresh token (`config.secrets.refreshTokenWriteIntervalMs`). */
  refreshTokenWriteIntervalMs: number;
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
 * naming the vault and the secret).
 *
 * Key Vault allows 300 writes per 10 s per vault and every access-token refresh rotates the refresh token, so the
 * refresh token is written back at most once per interval: the newest value is kept in memory (and served by `get`),
 * written when the interval allows (on a later `set` or a timer), or at once by `flush()`. An older token stays
 * valid until it expires, so a deferred write loses nothing.
 */
export class CachedSecretStore implements SecretStore {
  readonly kind: string;
  private readonly cache = new Map<SecretName, Entry>();
  private readonly inflight = new Map<SecretName, Promise<string | undefined>>();
  private readonly inOutage = new Set<SecretName>();
  private readonly clock: () => number;
  private readonly staleRetryMs: number;
  private pendingToken: string | undefined;
  private lastTokenWriteAt = Number.NEGATIVE_INFINITY;
  private tokenWrite: Promise<boolean> | undefined;
  private tokenTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly inner: SecretStore,
    private readonly options: CachedSecretStoreOptions,
  ) {
    this.kind = inner.kind;
    this.clock = options.clock ?? Date.now;
    this.staleRetryMs = options.staleRetryMs ?? DEFAULT_STALE_RETRY_MS;
  }

  get(name: SecretName): Promise<string | undefined> {
    if (name === THROTTLED_SECRET && this.pendingToken !== undefined) return Promise.resolve(this.pendingToken);
    const entry = this.cache.get(name);
    if (entry && this.clock() < entry.expiresAt) return Promise.resolve(entry.value);
    let read = this.inflight.get(name);
    if (!read) {
      read = this.refresh(name, entry).finally(() => this.inflight.delete(name));
      this.inflight.set(name, read);
    }
    return read;
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

  async set(name: SecretName, value: string): Promise<void> {
    if (name !== THROTTLED_SECRET) {
      await this.inner.set(name, value);
      this.cache.set(name, { value, expiresAt: this.clock() + this.options.ttlMs });
      return;
    }
    this.pendingToken = value;
    this.cache.set(name, { value, expiresAt: this.clock() + this.options.ttlMs });
    const waitMs = this.lastTokenWriteAt + this.options.refreshTokenWriteIntervalMs - this.clock();
    if (waitMs <= 0) await this.writePendingToken();
    else this.scheduleTokenWrite(waitMs);
  }

  /** Writes a refresh token still held only in memory now (end of a run, shutdown). Throws when the write fails. */
  async flush(): Promise<void> {
    this.clearTimer();
    // A write already in flight may carry an older token: then write the newest one after it.
    for (let round = 0; round < 3 && this.pendingToken !== undefined; round += 1) {
      if (!(await this.writePendingToken())) break;
    }
    if (this.pendingToken !== undefined) {
      throw new Error(`secret store: the rotated ${THROTTLED_SECRET} could not be written back`);
    }
  }

  /** Stops the deferred-write timer (tests, shutdown); a pending token stays in memory. */
  dispose(): void {
    this.clearTimer();
  }

  /** True while a rotated refresh token is held in memory only. */
  get hasPendingWrite(): boolean {
    return this.pendingToken !== undefined;
  }

  /** Resolves false when the write failed. */
  private writePendingToken(): Promise<boolean> {
    this.tokenWrite ??= this.writeNewestToken().finally(() => {
      this.tokenWrite = undefined;
    });
    return this.tokenWrite;
  }

  /** Never throws: a failed write keeps the token pending and is retried by the next set, the timer or flush. */
  private async writeNewestToken(): Promise<boolean> {
    const value = this.pendingToken;
    if (value === undefined) return true;
    try {
      await this.inner.set(THROTTLED_SECRET, value);
      this.lastTokenWriteAt = this.clock();
      if (this.pendingToken === value) this.pendingToken = undefined;
      else this.scheduleTokenWrite(this.options.refreshTokenWriteIntervalMs);
      return true;
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'unknown error';
      this.options.logger?.warn(`secret store: the rotated ${THROTTLED_SECRET} stays in memory for now (${reason})`);
      this.scheduleTokenWrite(Math.max(this.options.refreshTokenWriteIntervalMs, this.staleRetryMs));
      return false;
    }
  }

  private scheduleTokenWrite(delayMs: number): void {
    if (this.tokenTimer) return;
    // Best effort: an idle instance may be frozen or recycled, so callers also flush at the end of their work.
    this.tokenTimer = setTimeout(() => {
      this.tokenTimer = undefined;
      void this.writePendingToken();
    }, delayMs);
    this.tokenTimer.unref();
  }

  private clearTimer(): void {
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    this.tokenTimer = undefined;
  }
}
