import type { AppConfig } from '../config';
import type { SecretStore, SecretVersion } from '../secrets/types';
import {
  compareGenerations,
  formatGeneration,
  generationOf,
  generationTags,
  type ConsentGeneration,
} from './consent-generation';
import { silentLogger, type PartnerCenterLogger } from './logger';
import { redact } from './redact';

const REFRESH_TOKEN = 'PARTNER_CENTER_REFRESH_TOKEN';
/** How many tokens of a chain, and how many refused tokens, are remembered. */
const MAX_REMEMBERED = 16;

/** A refresh token and the consent generation it descends from. */
export interface HeldToken {
  token: string;
  generation: ConsentGeneration;
}

export function heldFrom(version: SecretVersion): HeldToken {
  return { token: version.value, generation: generationOf(version) };
}

/** After reading the vault's current version: keep the token held, or switch to the vault's. */
export type VaultDecision = { kind: 'keep' } | { kind: 'switch'; to: HeldToken };

/**
 * Pure. Switch to the vault's token when it is of a newer consent generation, when nothing is held yet, or when the
 * held token is dead (refused by Entra ID) and the vault's is not known to be (then it is worth one try, whatever its
 * generation). Within one generation the held token is kept: it is as good as the vault's, and the next write-back
 * brings the vault up to it.
 */
export function decideOnVault(
  held: HeldToken | undefined,
  vault: HeldToken | undefined,
  dead: ReadonlySet<string>,
): VaultDecision {
  if (!vault || vault.token === held?.token) return { kind: 'keep' };
  if (!held || compareGenerations(vault.generation, held.generation) > 0) return { kind: 'switch', to: vault };
  return dead.has(held.token) && !dead.has(vault.token) ? { kind: 'switch', to: vault } : { kind: 'keep' };
}

/** Before writing a rotated token back: write it, or not (already there; a newer consent is there). */
export type WriteBackDecision = { kind: 'write' } | { kind: 'stored' } | { kind: 'superseded'; by: HeldToken };

/** Pure. A write-back never replaces a newer generation; within its own generation it replaces any token. */
export function decideWriteBack(pending: HeldToken, vault: HeldToken | undefined): WriteBackDecision {
  if (vault?.token === pending.token) return { kind: 'stored' };
  if (vault && compareGenerations(vault.generation, pending.generation) > 0) return { kind: 'superseded', by: vault };
  return { kind: 'write' };
}

export interface RefreshTokenOwnerOptions {
  /** Least time between two reads of the vault's current version (the secret cache TTL); 0: at every refresh. */
  checkIntervalMs: number;
  /** Least time between two write-backs (Key Vault allows 300 writes per 10 s per vault); 0: each rotation at once. */
  writeIntervalMs: number;
  logger?: PartnerCenterLogger;
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
  /** After a failed write-back, the next try waits at least this long (default 30 s). */
  retryAfterFailureMs?: number;
}

/**
 * The one owner of Partner Center's refresh token (`PARTNER_CENTER_REFRESH_TOKEN`) in a process: it reads the
 * token, holds every rotation, and writes rotations back — and it never lets a write-back undo a newer consent.
 *
 * Every consent (`npm run consent`) stores its token with a new generation (tag `consent-generation`); every
 * write-back carries the generation it was rotated from. So:
 * - the vault's current version is read at most every `checkIntervalMs`, and always after `invalid_grant`; a newer
 *   generation there replaces the held token (and drops a pending write of the older one);
 * - a write-back first reads the vault's current version, and is dropped when that holds a newer generation;
 * - `invalid_grant` on a token drops any pending write of its generation;
 * - a rotation of a token no longer held (a newer consent came in while it was redeemed) is dropped.
 * Key Vault has no conditional write, so the read and the write are two calls; `npm run consent` checks its own
 * write after the longest a write-back can take and stores its token again if one landed over it.
 *
 * Key Vault allows few writes, so a rotation is written back at most every `writeIntervalMs` (the newest one, by a
 * timer), or at once by `flush()`. An older token stays valid until unused for 90 days, so a deferred write loses
 * nothing. Never logs a token.
 */
export class RefreshTokenOwner {
  private readonly now: () => number;
  private readonly logger: PartnerCenterLogger;
  private held: HeldToken | undefined;
  /** A rotated token not yet in the vault. */
  private pending: HeldToken | undefined;
  /** The tokens held since the last switch, oldest first: each one is an ancestor of the next (bounded). */
  private lineage: string[] = [];
  /** Tokens Entra ID refused, with their ancestors (which are dead too); bounded. */
  private readonly dead = new Set<string>();
  private checkedAt = Number.NEGATIVE_INFINITY;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private checking: Promise<void> | undefined;
  private writing: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private vaultUnreadable = false;

  constructor(
    private readonly store: SecretStore,
    private readonly options: RefreshTokenOwnerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
  }

  /** Which secret store holds the token ("key-vault", "environment", ...). */
  get storeKind(): string {
    return this.store.kind;
  }

  /** True while a rotated token is held in memory only. */
  get hasPendingWrite(): boolean {
    return this.pending !== undefined;
  }

  /**
   * The refresh token to redeem now: the held one, or the vault's when it is of a newer consent (the vault is read
   * at most every `checkIntervalMs`). Undefined when there is none (no consent yet). Throws the store's error only
   * when no token is held (a warm owner keeps its token through a Key Vault outage).
   */
  async current(): Promise<HeldToken | undefined> {
    if (!this.held || this.now() - this.checkedAt >= this.options.checkIntervalMs) await this.check();
    return this.held;
  }

  /** Redeeming `used` returned `rotated`: hold it (same generation) and write it back when the interval allows. */
  rotated(used: HeldToken, rotated: string): void {
    // Replaced while it was being redeemed (a newer consent): its rotation must not come back.
    if (this.held?.token !== used.token) return;
    if (rotated === used.token) return;
    this.held = { token: rotated, generation: used.generation };
    this.lineage = [...this.lineage, rotated].slice(-MAX_REMEMBERED);
    this.pending = this.held;
    const waitMs = this.lastWriteAt + this.options.writeIntervalMs - this.now();
    if (waitMs <= 0) void this.writePending();
    else this.schedule(waitMs);
  }

  /**
   * Entra ID refused `used` (invalid_grant): drops any pending write of its generation, reads the vault at once,
   * and returns the vault's token when it is another one (an operator consented again), else undefined.
   */
  async refused(used: HeldToken): Promise<HeldToken | undefined> {
    // The tokens held before `used` in its chain are older than it: refused as well.
    const chain = this.lineage.includes(used.token) ? this.lineage : [used.token];
    for (const token of chain) this.dead.add(token);
    while (this.dead.size > MAX_REMEMBERED) this.dead.delete(this.dead.values().next().value!);
    if (this.pending && compareGenerations(this.pending.generation, used.generation) <= 0) {
      this.pending = undefined;
      this.logger('warn', 'Dropped the pending write-back of a refused Partner Center refresh token', {
        consentGeneration: formatGeneration(used.generation),
      });
    }
    try {
      await this.check();
    } catch {
      return undefined;
    }
    const held = this.held;
    return held && held.token !== used.token ? held : undefined;
  }

  /**
   * Writes a rotated token still held only in memory now (end of a poll run, shutdown) — unless the vault holds a
   * newer consent, which is then used instead. Throws when the write fails.
   */
  async flush(): Promise<void> {
    this.clearTimer();
    // A write already in flight may carry an older token: then write the newest one after it.
    for (let round = 0; round < 3 && this.pending !== undefined; round += 1) {
      if (!(await this.writePending())) break;
    }
    if (this.pending !== undefined) {
      throw new Error(
        `The rotated Partner Center refresh token could not be written back to the secret store (${this.store.kind}); it is kept in memory and written later`,
      );
    }
  }

  /** Stops the deferred-write timer (tests, shutdown); a pending token stays in memory. */
  dispose(): void {
    this.clearTimer();
  }

  /** Reads the vault's current version and applies `decideOnVault`; single-flight. */
  private check(): Promise<void> {
    this.checking ??= this.readAndDecide().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async readAndDecide(): Promise<void> {
    let vault: HeldToken | undefined;
    try {
      const version = await this.store.read(REFRESH_TOKEN);
      vault = version && heldFrom(version);
    } catch (error) {
      this.checkedAt = this.now();
      if (!this.held) throw error;
      if (!this.vaultUnreadable) {
        this.vaultUnreadable = true;
        this.logger(
          'warn',
          'Could not read the Partner Center refresh token from the secret store; using the one held',
          {
            secretStore: this.store.kind,
            error: this.clean(error),
          },
        );
      }
      return;
    }
    this.checkedAt = this.now();
    this.vaultUnreadable = false;
    const decision = decideOnVault(this.held, vault, this.dead);
    switch (decision.kind) {
      case 'keep':
        return;
      case 'switch':
        this.switchTo(decision.to);
        return;
      default:
        assertNever(decision);
    }
  }

  private switchTo(next: HeldToken): void {
    const previous = this.held;
    this.held = next;
    this.lineage = [next.token];
    if (this.pending && compareGenerations(this.pending.generation, next.generation) < 0) this.pending = undefined;
    if (previous) {
      this.logger('info', 'Using the Partner Center refresh token of a newer consent from the secret store', {
        secretStore: this.store.kind,
        consentGeneration: formatGeneration(next.generation),
        previousGeneration: formatGeneration(previous.generation),
      });
    }
  }

  /** Resolves false when the write failed (the token stays pending). Single-flight. */
  private writePending(): Promise<boolean> {
    this.writing ??= this.writeOnce().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  /** Never throws: a failed write keeps the token pending, retried by the next rotation, the timer or flush. */
  private async writeOnce(): Promise<boolean> {
    const pending = this.pending;
    if (!pending) return true;
    try {
      // Read, decide, write: Key Vault has no conditional write (no ETag on set), so this is not conditionalUpdate.
      const version = await this.store.read(REFRESH_TOKEN);
      const vault = version && heldFrom(version);
      this.checkedAt = this.now();
      const decision = decideWriteBack(pending, vault);
      switch (decision.kind) {
        case 'stored':
          break;
        case 'superseded':
          if (this.pending === pending) this.pending = undefined;
          if (this.held && compareGenerations(decision.by.generation, this.held.generation) > 0) {
            this.switchTo(decision.by);
          }
          return true;
        case 'write':
          await this.store.set(REFRESH_TOKEN, pending.token, generationTags(pending.generation));
          this.lastWriteAt = this.now();
          this.logger('info', 'Rotated Partner Center refresh token stored', {
            secretStore: this.store.kind,
            consentGeneration: formatGeneration(pending.generation),
          });
          break;
        default:
          assertNever(decision);
      }
      if (this.pending === pending) this.pending = undefined;
      else if (this.pending) this.schedule(Math.max(0, this.lastWriteAt + this.options.writeIntervalMs - this.now()));
      return true;
    } catch (error) {
      this.logger('warn', 'Could not store the rotated Partner Center refresh token; it is kept and written later', {
        secretStore: this.store.kind,
        errorName: error instanceof Error ? error.name : 'Error',
        error: this.clean(error),
      });
      this.schedule(Math.max(this.options.writeIntervalMs, this.options.retryAfterFailureMs ?? 30_000));
      return false;
    }
  }

  private schedule(delayMs: number): void {
    if (this.timer) return;
    // Best effort: an idle instance may be frozen or recycled, so the poll run also flushes at its end.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writePending();
    }, delayMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A store error as text safe to log: token-shaped text redacted, the tokens held masked. */
  private clean(error: unknown): string {
    let text = redact(error instanceof Error ? error.message : String(error));
    for (const token of [...this.lineage, ...this.dead]) {
      if (token && token.length >= 8) text = text.split(token).join('[redacted]');
    }
    return text;
  }
}

/** The owner the app uses: Key Vault is read at most once per cache TTL and written at most once per interval. */
export function createRefreshTokenOwner(
  config: Pick<AppConfig, 'secrets'>,
  store: SecretStore,
  logger?: PartnerCenterLogger,
): RefreshTokenOwner {
  const { keyVaultUrl, cacheTtlMs, refreshTokenWriteIntervalMs } = config.secrets;
  // Locally (environment variables) reads and writes cost nothing.
  return new RefreshTokenOwner(store, {
    checkIntervalMs: keyVaultUrl ? cacheTtlMs : 0,
    writeIntervalMs: keyVaultUrl ? refreshTokenWriteIntervalMs : 0,
    logger,
  });
}

function assertNever(value: never): never {
  throw new Error(`Unexpected decision ${JSON.stringify(value)}`);
}
