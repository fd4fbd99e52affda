import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { SimulatorClock } from './clock';
import type { TokenAuthority } from './tokens';
import type { UpgradeRecord, UpgradeStore } from './upgrades';

const VERSION = 1;
const SAVE_DELAY_MS = 500;

export interface StateFile {
  version: number;
  savedAt: string;
  /** Simulated time when saved: a restarted accelerated clock never starts before it. */
  simTime: number;
  upgrades: UpgradeRecord[];
  requestIds: Array<[string, string]>;
  /** SHA-256 hashes of refresh tokens with their last use; no usable token is written. */
  refreshTokens: Array<[string, { lastUsedAt: number }]>;
}

/** Reads a state file; undefined when it does not exist yet. */
export function readStateFile(path: string): StateFile | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(
      `simulator state file ${path} is not valid JSON (${(error as Error).message}); delete it to start fresh`,
      { cause: error },
    );
  }
  const state = parsed as Partial<StateFile>;
  if (
    state.version !== VERSION ||
    !Array.isArray(state.upgrades) ||
    !Array.isArray(state.requestIds) ||
    !Array.isArray(state.refreshTokens) ||
    typeof state.simTime !== 'number'
  ) {
    throw new Error(`simulator state file ${path} has an unknown format; delete it to start fresh`);
  }
  return state as StateFile;
}

/**
 * Keeps upgrades, idempotency keys and refresh tokens across restarts (e.g. `npm start` with persistent Azurite: the
 * tracker still polls upgrades made by the previous run, and the app still holds the last rotated refresh token).
 * Writes are debounced and atomic (temp file + rename); close() writes synchronously.
 */
export class StatePersistence {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly clock: SimulatorClock,
    private readonly store: UpgradeStore,
    private readonly authority: TokenAuthority,
  ) {
    store.onChange = () => this.scheduleSave();
    authority.onChange = () => this.scheduleSave();
  }

  restore(state: StateFile | undefined): void {
    if (!state) return;
    this.store.importState(state);
    this.authority.importRefreshTokens(state.refreshTokens);
  }

  private scheduleSave(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.saveNow();
    }, SAVE_DELAY_MS);
    this.timer.unref();
  }

  saveNow(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const state: StateFile = {
      version: VERSION,
      savedAt: new Date().toISOString(),
      simTime: this.clock.now(),
      ...this.store.exportState(),
      refreshTokens: this.authority.exportRefreshTokens(),
    };
    const temp = `${this.path}.tmp`;
    writeFileSync(temp, JSON.stringify(state));
    renameSync(temp, this.path);
  }
}
