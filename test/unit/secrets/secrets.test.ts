import { CachedSecretStore, createSecretStore, EnvironmentSecretStore } from '../../../shared/secrets';
import type { SecretName, SecretStore, SecretTags, SecretVersion } from '../../../shared/secrets';

class MemoryStore implements SecretStore {
  readonly kind = 'memory';
  readonly values = new Map<SecretName, SecretVersion>();
  reads = 0;
  writes: string[] = [];
  failing = false;
  get(name: SecretName): Promise<string | undefined> {
    return this.read(name).then((version) => version?.value);
  }
  read(name: SecretName): Promise<SecretVersion | undefined> {
    this.reads += 1;
    if (this.failing) return Promise.reject(new Error('store down'));
    return Promise.resolve(this.values.get(name));
  }
  set(name: SecretName, value: string, tags: SecretTags = {}): Promise<void> {
    if (this.failing) return Promise.reject(new Error('store down'));
    this.writes.push(value);
    this.values.set(name, { value, tags, createdOn: undefined });
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

  it('keeps the tags of a value set in this process, in memory; a value from the environment has none', async () => {
    let now = 1_000;
    const store = new EnvironmentSecretStore({ PARTNER_CENTER_REFRESH_TOKEN: 'from-env' }, () => now);
    expect(await store.read('PARTNER_CENTER_REFRESH_TOKEN')).toEqual({
      value: 'from-env',
      tags: {},
      createdOn: undefined,
    });
    now = 2_000;
    await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rotated', { 'consent-generation': '5' });
    expect(await store.read('PARTNER_CENTER_REFRESH_TOKEN')).toEqual({
      value: 'rotated',
      tags: { 'consent-generation': '5' },
      createdOn: 2_000,
    });
  });
});

describe('createSecretStore without KEY_VAULT_URL', () => {
  it('uses the environment and logs that once', async () => {
    const lines: string[] = [];
    const logger = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
    const store = createSecretStore(
      { secrets: { keyVaultUrl: undefined, cacheTtlMs: 300_000 } },
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
    const store = new CachedSecretStore(inner, { ttlMs: 1000, clock: () => now });
    expect(await store.get('WEBHOOK_SIGNING_SECRET')).toBeUndefined();
    expect(await store.get('WEBHOOK_SIGNING_SECRET')).toBeUndefined();
    expect(inner.reads).toBe(1);
    inner.failing = true;
    await expect(store.get('CALLBACK_SIGNING_SECRET')).rejects.toThrow('store down');
    inner.failing = false;
    inner.values.set('CALLBACK_SIGNING_SECRET', { value: 'v', tags: {}, createdOn: undefined });
    expect(await store.get('CALLBACK_SIGNING_SECRET')).toBe('v');
    now += 1000;
    expect(await store.get('WEBHOOK_SIGNING_SECRET')).toBeUndefined();
    expect(inner.reads).toBe(4);
  });

  it('set of an ordinary secret writes through and updates the cache', async () => {
    const inner = new MemoryStore();
    const store = new CachedSecretStore(inner, { ttlMs: 60_000 });
    await store.set('CALLBACK_SIGNING_SECRET', 'a');
    await store.set('CALLBACK_SIGNING_SECRET', 'b');
    expect(inner.writes).toEqual(['a', 'b']);
    expect(await store.get('CALLBACK_SIGNING_SECRET')).toBe('b');
    expect(inner.reads).toBe(0);
  });

  it('read is never cached: it asks the inner store each time, and set passes the tags through', async () => {
    const inner = new MemoryStore();
    const store = new CachedSecretStore(inner, { ttlMs: 60_000 });
    await store.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-1', { 'consent-generation': '7' });
    expect(await store.read('PARTNER_CENTER_REFRESH_TOKEN')).toEqual({
      value: 'rt-1',
      tags: { 'consent-generation': '7' },
      createdOn: undefined,
    });
    inner.values.set('PARTNER_CENTER_REFRESH_TOKEN', { value: 'rt-operator', tags: {}, createdOn: 5 });
    expect((await store.read('PARTNER_CENTER_REFRESH_TOKEN'))?.value).toBe('rt-operator');
    expect(inner.reads).toBe(2);
    expect(inner.writes).toEqual(['rt-1']); // written through at once: the cache holds no refresh-token logic
  });
});
