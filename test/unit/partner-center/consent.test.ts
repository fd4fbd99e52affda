import fc from 'fast-check';
import {
  compareGenerations,
  decideOnVault,
  decideWriteBack,
  formatGeneration,
  generationOf,
  generationTags,
  nextGeneration,
  parseGeneration,
  RefreshTokenOwner,
  type ConsentGeneration,
  type HeldToken,
} from '../../../shared/partner-center';
import { MemorySecretStore } from '../../helpers/memory-secret-store';

const G1: ConsentGeneration = { at: 1_000, nonce: 'aa' };
const G2: ConsentGeneration = { at: 2_000, nonce: '01' };

function owner(store: MemorySecretStore, options: Partial<ConstructorParameters<typeof RefreshTokenOwner>[1]> = {}) {
  const logs: { level: string; message: string; props: unknown }[] = [];
  const consent = new RefreshTokenOwner(store, {
    checkIntervalMs: 0,
    writeIntervalMs: 0,
    logger: (level, message, props) => logs.push({ level, message, props }),
    ...options,
  });
  return { consent, logs };
}

/** The store as `npm run consent` leaves it: the token with its generation tag. */
async function consented(store: MemorySecretStore, token: string, generation: ConsentGeneration): Promise<void> {
  await store.set('PARTNER_CENTER_REFRESH_TOKEN', token, generationTags(generation));
}

const generation = fc.record({
  at: fc.integer({ min: 0, max: 2 ** 45 }),
  nonce: fc.stringMatching(/^[0-9a-f]{0,8}$/),
});
const held = fc.record({ token: fc.constantFrom('t1', 't2', 't3'), generation });

describe('consent generations', () => {
  it('format and parse round-trip; anything else is no generation', () => {
    fc.assert(fc.property(generation, (g) => expect(parseGeneration(formatGeneration(g))).toEqual(g)));
    for (const bad of ['', 'x', '1.', '1.XY', '-1', '1.2.3', '99999999999999999', ' 1']) {
      expect(parseGeneration(bad)).toBeUndefined();
    }
  });

  it('order by time, then nonce; a total order every instance agrees on', () => {
    fc.assert(
      fc.property(generation, generation, (a, b) => {
        expect(Math.sign(compareGenerations(a, b))).toBe(-Math.sign(compareGenerations(b, a)));
        expect(compareGenerations(a, b) === 0).toBe(a.at === b.at && a.nonce === b.nonce);
      }),
    );
  });

  it('a new consent is always newer than what the vault holds, even with a clock behind the vault', () => {
    fc.assert(
      fc.property(fc.option(generation, { nil: undefined }), fc.integer({ min: 0, max: 2 ** 45 }), (current, now) => {
        const next = nextGeneration(current, now);
        if (current) expect(compareGenerations(next, current)).toBeGreaterThan(0);
        expect(next.at).toBeGreaterThanOrEqual(now);
      }),
    );
  });

  it('a version without a (valid) tag counts from its creation time, or as the oldest when the store cannot tell', () => {
    expect(generationOf({ tags: { 'consent-generation': '5.ab' }, createdOn: 9 })).toEqual({ at: 5, nonce: 'ab' });
    expect(generationOf({ tags: { 'consent-generation': 'garbage' }, createdOn: 9_000 })).toEqual({
      at: 9_000,
      nonce: '',
    });
    expect(generationOf({ tags: {}, createdOn: undefined })).toEqual({ at: 0, nonce: '' });
  });
});

describe('decisions (pure)', () => {
  it('a write-back never replaces a newer generation, and never writes what the vault already has', () => {
    fc.assert(
      fc.property(held, fc.option(held, { nil: undefined }), (pending, vault) => {
        const decision = decideWriteBack(pending, vault);
        if (decision.kind === 'write' && vault) {
          expect(compareGenerations(vault.generation, pending.generation)).toBeLessThanOrEqual(0);
          expect(vault.token).not.toBe(pending.token);
        }
        if (vault && vault.token !== pending.token && compareGenerations(vault.generation, pending.generation) > 0) {
          expect(decision).toEqual({ kind: 'superseded', by: vault });
        }
      }),
    );
  });

  it('the vault wins when newer, or when the held token is dead and the vault one is not; else the held one is kept', () => {
    const dead = fc.subarray(['t1', 't2', 't3']).map((tokens) => new Set(tokens));
    fc.assert(
      fc.property(held, held, dead, (mine, vault, known) => {
        const decision = decideOnVault(mine, vault, known);
        const shouldSwitch =
          vault.token !== mine.token &&
          (compareGenerations(vault.generation, mine.generation) > 0 ||
            (known.has(mine.token) && !known.has(vault.token)));
        expect(decision).toEqual(shouldSwitch ? { kind: 'switch', to: vault } : { kind: 'keep' });
      }),
    );
    expect(decideOnVault(undefined, { token: 't', generation: G1 }, new Set())).toEqual({
      kind: 'switch',
      to: { token: 't', generation: G1 },
    });
    expect(decideOnVault({ token: 't', generation: G1 }, undefined, new Set(['t']))).toEqual({ kind: 'keep' });
  });
});

describe('RefreshTokenOwner', () => {
  it('reads the token, and writes each rotation back with the generation it was rotated from', async () => {
    const store = new MemorySecretStore();
    await consented(store, 'rt-0', G1);
    const { consent } = owner(store);
    const first = (await consent.current())!;
    expect(first).toEqual({ token: 'rt-0', generation: G1 });
    consent.rotated(first, 'rt-1');
    await consent.flush();
    expect(store.writes.at(-1)).toEqual({
      name: 'PARTNER_CENTER_REFRESH_TOKEN',
      value: 'rt-1',
      tags: { 'consent-generation': formatGeneration(G1) },
    });
    expect(await consent.current()).toEqual({ token: 'rt-1', generation: G1 });
  });

  it('writes the deferred refresh token by itself once the interval has passed', async () => {
    jest.useFakeTimers();
    try {
      const store = new MemorySecretStore({ PARTNER_CENTER_REFRESH_TOKEN: 'rt-0' });
      const { consent } = owner(store, { writeIntervalMs: 60_000, now: Date.now });
      let token = (await consent.current())!;
      consent.rotated(token, 'rt-1');
      await jest.advanceTimersByTimeAsync(0);
      jest.advanceTimersByTime(1000);
      for (const next of ['rt-2', 'rt-3']) {
        token = (await consent.current())!;
        consent.rotated(token, next);
      }
      expect(store.writes.map((w) => w.value)).toEqual(['rt-1']);
      await jest.advanceTimersByTimeAsync(59_000);
      expect(store.writes.map((w) => w.value)).toEqual(['rt-1', 'rt-3']);
      expect(consent.hasPendingWrite).toBe(false);
      consent.dispose();
    } finally {
      jest.useRealTimers();
    }
  });

  it('flush writes the newest token even when an older one is being written', async () => {
    let release!: () => void;
    const store = new MemorySecretStore({ PARTNER_CENTER_REFRESH_TOKEN: 'rt-0' });
    store.holdSets = new Promise<void>((resolve) => (release = resolve));
    const { consent } = owner(store, { writeIntervalMs: 3_600_000 });
    const first = (await consent.current())!;
    consent.rotated(first, 'rt-1'); // written at once (first write), held by the store
    consent.rotated({ token: 'rt-1', generation: first.generation }, 'rt-2'); // deferred by the interval
    expect((await consent.current())?.token).toBe('rt-2');
    const flushed = consent.flush();
    release();
    await flushed;
    expect(store.writes.map((w) => w.value)).toEqual(['rt-1', 'rt-2']);
    expect(consent.hasPendingWrite).toBe(false);
    consent.dispose();
  });

  it('a write-back finding a newer consent in the vault writes nothing and switches to it', async () => {
    const store = new MemorySecretStore();
    await consented(store, 'rt-0', G1);
    const { consent, logs } = owner(store, { checkIntervalMs: 3_600_000, writeIntervalMs: 3_600_000 });
    const first = (await consent.current())!;
    consent.rotated(first, 'rt-1'); // written at once
    await consent.flush();
    consent.rotated({ token: 'rt-1', generation: G1 }, 'rt-2'); // pending: the interval has not passed
    expect(consent.hasPendingWrite).toBe(true);
    await consented(store, 'rt-new-consent', G2); // an operator consents again
    await consent.flush();
    expect(store.values.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe('rt-new-consent');
    expect(store.writes.map((w) => w.value)).toEqual(['rt-0', 'rt-1', 'rt-new-consent']);
    expect(consent.hasPendingWrite).toBe(false);
    expect(await consent.current()).toEqual({ token: 'rt-new-consent', generation: G2 });
    expect(JSON.stringify(logs)).not.toMatch(/rt-/);
  });

  it('a refresh switches to a newer consent at its next check, at most once per check interval', async () => {
    let now = 0;
    const store = new MemorySecretStore();
    await consented(store, 'rt-0', G1);
    const { consent } = owner(store, { checkIntervalMs: 300_000, writeIntervalMs: 3_600_000, now: () => now });
    await consent.current();
    await consented(store, 'rt-new-consent', G2);
    const readsBefore = store.getCalls;
    now += 299_999;
    expect((await consent.current())?.token).toBe('rt-0');
    expect(store.getCalls).toBe(readsBefore);
    now += 1;
    expect(await consent.current()).toEqual({ token: 'rt-new-consent', generation: G2 });
    expect(store.getCalls).toBe(readsBefore + 1);
  });

  it('within one generation the held (newer) token is kept over another instance write-back', async () => {
    const store = new MemorySecretStore();
    await consented(store, 'rt-0', G1);
    const { consent } = owner(store, { writeIntervalMs: 3_600_000 });
    const first = (await consent.current())!;
    consent.rotated(first, 'rt-mine');
    await consent.flush();
    await consented(store, 'rt-other-instance', G1);
    expect((await consent.current())?.token).toBe('rt-mine');
  });

  it('a rotation of a token replaced meanwhile by a newer consent is dropped, never written', async () => {
    const store = new MemorySecretStore();
    await consented(store, 'rt-0', G1);
    const { consent } = owner(store);
    const used = (await consent.current())!; // being redeemed ...
    await consented(store, 'rt-new-consent', G2);
    await consent.current(); // ... while another call switches to the new consent
    consent.rotated(used, 'rt-old-chain');
    await consent.flush();
    expect(store.writes.map((w) => w.value)).not.toContain('rt-old-chain');
    expect((await consent.current())?.token).toBe('rt-new-consent');
  });

  it('invalid_grant drops the pending write of that generation and hands over the token stored meanwhile', async () => {
    const store = new MemorySecretStore();
    await consented(store, 'rt-0', G1);
    const { consent } = owner(store, { checkIntervalMs: 3_600_000, writeIntervalMs: 3_600_000 });
    const first = (await consent.current())!;
    consent.rotated(first, 'rt-1');
    await consent.flush();
    consent.rotated({ token: 'rt-1', generation: G1 }, 'rt-2'); // pending
    const used = (await consent.current())!;
    // The vault holds rt-1, an ancestor of the refused rt-2: dead too, not worth a request.
    expect(await consent.refused(used)).toBeUndefined();
    expect(consent.hasPendingWrite).toBe(false);
    await consent.flush();
    expect(store.writes.map((w) => w.value)).toEqual(['rt-0', 'rt-1']);

    await consented(store, 'rt-new-consent', G2);
    expect(await consent.refused(used)).toEqual({ token: 'rt-new-consent', generation: G2 });
  });

  it('after invalid_grant, any other token in the vault is worth one try, whatever its generation', async () => {
    const store = new MemorySecretStore({ PARTNER_CENTER_REFRESH_TOKEN: 'rt-0' });
    const { consent } = owner(store);
    const used = (await consent.current())!;
    store.values.set('PARTNER_CENTER_REFRESH_TOKEN', 'rt-stored-by-hand'); // no tag, same (oldest) generation
    expect((await consent.refused(used))?.token).toBe('rt-stored-by-hand');
  });

  it('keeps the held token through a store outage, logging once; a cold owner throws the store error', async () => {
    const store = new MemorySecretStore({ PARTNER_CENTER_REFRESH_TOKEN: 'rt-0' });
    const { consent, logs } = owner(store);
    await consent.current();
    store.read = () => Promise.reject(new Error('vault down'));
    expect((await consent.current())?.token).toBe('rt-0');
    expect((await consent.current())?.token).toBe('rt-0');
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(1);

    const cold = owner(store).consent;
    await expect(cold.current()).rejects.toThrow('vault down');
  });

  it('a failed write keeps the token pending; flush says so; a later flush writes it', async () => {
    const store = new MemorySecretStore({ PARTNER_CENTER_REFRESH_TOKEN: 'rt-0' });
    const { consent, logs } = owner(store, { writeIntervalMs: 3_600_000 });
    const first: HeldToken = (await consent.current())!;
    store.failNextSets = 1;
    consent.rotated(first, 'rt-1'); // its write starts at once; flush joins it and reports its failure
    await expect(consent.flush()).rejects.toThrow(/could not be written back/);
    expect(consent.hasPendingWrite).toBe(true);
    await consent.flush();
    expect(store.values.get('PARTNER_CENTER_REFRESH_TOKEN')).toBe('rt-1');
    expect(JSON.stringify(logs)).toMatch(/Could not store the rotated/);
    expect(JSON.stringify(logs)).not.toContain('rt-1');
    consent.dispose();
  });
});
