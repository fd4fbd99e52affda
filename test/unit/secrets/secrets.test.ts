import { CachedSecretStore, createSecretStore, EnvironmentSecretStore, parseSecretList } from '../../../shared/secrets';
import type { SecretName, SecretStore } from '../../../shared/secrets';

class MemoryStore implements SecretStore {
  readonly kind = 'memory';
  readonly values = new Map<SecretName, string>();
  reads = 0;
  writes: string[] = [];
  failing = false;
  get(name: SecretName): Promise<string | undefined> {
    this.reads += 1;
    if (this.failing) return Promise.reject(new Error('store down'));
    return Promise.resolve(this.values.get(name));
  }
  set(name: SecretName, value: string): Promise<void> {
    if (this.failing) return Promise.reject(new Error('store down'));
    this.writes.push(value);
    this.values.set(name, value);
    return Promise.resolve();
  }
}

describe('EnvironmentSecretStore', () => {
  it('reads the variable of the same name; blank is absent; set changes this process only', async () => {
    const env = { WEBHOOK_SIGNING_SECRET: ' s1 ', CALLBACK_SIGNING_SECRET: '  ' };
    const store = new EnvironmentSecretStore(env);
    expect(await store.get('WEBHOOK_SIGNING_SECRET')).toBe('s1');
    expect(await store.get('CALLBACK_SIGNING_SECRET')).toBeUndefined();
    expect(await store.get('PARTNER_CENTER_REFRESH_TOKEN')).toBeUndefined();
    await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rotated');
    expect(await store.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe('rotated');
    expect(env).not.toHaveProperty('PARTNER_CENTER_REFRESH_TOKEN');
  });
});

describe('parseSecretList', () => {
  it('splits comma-separated secrets for rotation and drops blanks', () => {
    expect(parseSecretList(undefined)).toEqual([]);
    expect(parseSecretList('only')).toEqual(['only']);
    expect(parseSecretList(' new , old ,, ')).toEqual(['new', 'old']);
  });
});

describe('createSecretStore without KEY_VAULT_URL', () => {
  it('uses the environment and logs that once', async () => {
    const lines: string[] = [];
    const logger = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
    const store = createSecretStore(
      { secrets: { keyVaultUrl: undefined, cacheTtlMs: 300_000, refreshTokenWriteIntervalMs: 3_600_000 } },
      { logger, env: { CALLBACK_SIGNING_SECRET: 'cb-secret' } },
    );
    expect(store.kind).toBe('environment');
    expect(await store.get('CALLBACK_SIGNING_SECRET')).toBe('cb-secret');
    expect(lines).toEqual(['secret store: environment']);
  });
});

describe('CachedSecretStore', () => {
  it('caches absent secrets too, and does not cache a cold failure', async () => {
    let now = 0;
    const inner = new MemoryStore();
    const store = new CachedSecretStore(inner, { ttlMs: 1000, refreshTokenWriteIntervalMs: 0, clock: () => now });
    expect(await store.get('WEBHOOK_SIGNING_SECRET')).toBeUndefined();
    expect(await store.get('WEBHOOK_SIGNING_SECRET')).toBeUndefined();
    expect(inner.reads).toBe(1);
    inner.failing = true;
    await expect(store.get('CALLBACK_SIGNING_SECRET')).rejects.toThrow('store down');
    inner.failing = false;
    inner.values.set('CALLBACK_SIGNING_SECRET', 'v');
    expect(await store.get('CALLBACK_SIGNING_SECRET')).toBe('v');
    now += 1000;
    expect(await store.get('WEBHOOK_SIGNING_SECRET')).toBeUndefined();
    expect(inner.reads).toBe(4);
  });

  it('set of an ordinary secret writes through and updates the cache', async () => {
    const inner = new MemoryStore();
    const store = new CachedSecretStore(inner, { ttlMs: 60_000, refreshTokenWriteIntervalMs: 60_000 });
    await store.set('CALLBACK_SIGNING_SECRET', 'a');
    await store.set('CALLBACK_SIGNING_SECRET', 'b');
    expect(inner.writes).toEqual(['a', 'b']);
    expect(await store.get('CALLBACK_SIGNING_SECRET')).toBe('b');
    expect(inner.reads).toBe(0);
  });

  it('writes the deferred refresh token by itself once the interval has passed', async () => {
    jest.useFakeTimers();
    try {
      const inner = new MemoryStore();
      const store = new CachedSecretStore(inner, { ttlMs: 60_000, refreshTokenWriteIntervalMs: 60_000 });
      await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-1');
      jest.advanceTimersByTime(1000);
      await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-2');
      await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-3');
      expect(inner.writes).toEqual(['rt-1']);
      await jest.advanceTimersByTimeAsync(59_000);
      expect(inner.writes).toEqual(['rt-1', 'rt-3']);
      expect(store.hasPendingWrite).toBe(false);
      store.dispose();
    } finally {
      jest.useRealTimers();
    }
  });

  it('flush writes the newest token even when an older one is being written', async () => {
    let release!: () => void;
    const inner = new MemoryStore();
    const slowSet = inner.set.bind(inner);
    inner.set = async (name, value) => {
      if (value === 'rt-1') await new Promise<void>((resolve) => (release = resolve));
      return slowSet(name, value);
    };
    const store = new CachedSecretStore(inner, { ttlMs: 60_000, refreshTokenWriteIntervalMs: 3_600_000 });
    const first = store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-1');
    const second = store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-2');
    expect(await store.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe('rt-2');
    const flushed = store.flush();
    release();
    await Promise.all([first, second, flushed]);
    expect(inner.writes).toEqual(['rt-1', 'rt-2']);
    expect(store.hasPendingWrite).toBe(false);
    store.dispose();
  });
});
