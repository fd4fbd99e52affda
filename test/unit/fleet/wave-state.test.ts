import { newLease } from '../../../shared/storage/lease';
import type { WaveMember, WaveRecord, WaveState } from '../../../shared/fleet/wave-records';
import {
  decideCommand,
  decideMembers,
  decideRelease,
  decideSettle,
  decideWaveClaim,
  decideWaveCreate,
  type WaveCommand,
} from '../../../shared/fleet/wave-state';

const T0 = Date.parse('2026-05-01T10:00:00Z');
const WAVE = '0b5c1f5e-0000-4000-8000-00000000000a';
const OTHER = '0b5c1f5e-0000-4000-8000-00000000000b';

function wave(overrides: Partial<WaveRecord> = {}): WaveRecord {
  return {
    waveId: WAVE,
    state: 'running',
    selection: { kind: 'select', state: 'eligible', limit: 200 },
    createsPerMinute: 30,
    members: 3,
    createdAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    runs: 0,
    ...overrides,
  };
}

function member(customerId: string, overrides: Partial<WaveMember> = {}): WaveMember {
  return {
    waveId: WAVE,
    customerId,
    status: 'pending',
    attempts: 0,
    updatedAt: new Date(T0).toISOString(),
    ...overrides,
  };
}

const mine = newLease('run-a', T0, 60_000);
const theirs = newLease('run-b', T0, 60_000);

describe('wave slot: one wave at a time', () => {
  it('a free slot takes the new wave, written with its record', () => {
    const decision = decideWaveCreate(undefined, wave());
    expect(decision.result).toEqual({ outcome: 'created', wave: wave() });
    expect(decision.write).toEqual({ activeWaveId: WAVE, lastWaveId: WAVE });
    expect(decision.create).toEqual(wave());
    expect(decideWaveCreate({ lastWaveId: OTHER }, wave()).result.outcome).toBe('created');
  });

  it('a slot held by another wave hands that wave back and writes nothing', () => {
    const decision = decideWaveCreate({ activeWaveId: OTHER, lastWaveId: OTHER }, wave());
    expect(decision).toEqual({ result: { outcome: 'exists', waveId: OTHER } });
  });
});

describe('a timer run takes a wave', () => {
  it('claims an active wave: its lease, one more run, the first start time', () => {
    for (const state of ['running', 'paused', 'following'] as WaveState[]) {
      const decision = decideWaveClaim(wave({ state }), mine, T0 + 5);
      expect(decision.result.outcome).toBe('claimed');
      expect(decision.write).toMatchObject({ state, lease: mine, runs: 1, startedAt: new Date(T0 + 5).toISOString() });
    }
    const again = decideWaveClaim(wave({ startedAt: 'earlier', runs: 4 }), mine, T0);
    expect(again.write).toMatchObject({ startedAt: 'earlier', runs: 5 });
  });

  it('leaves a wave another live run holds, an ended one, and none', () => {
    expect(decideWaveClaim(wave({ lease: theirs }), mine, T0)).toEqual({ result: { outcome: 'busy' } });
    // A lease that has run out is taken over.
    expect(decideWaveClaim(wave({ lease: theirs }), mine, theirs.until).result.outcome).toBe('claimed');
    for (const state of ['completed', 'cancelled'] as WaveState[]) {
      expect(decideWaveClaim(wave({ state }), mine, T0)).toEqual({ result: { outcome: 'ended' } });
    }
    expect(decideWaveClaim(undefined, mine, T0)).toEqual({ result: { outcome: 'none' } });
  });
});

describe("a run's member writes", () => {
  const rows = [member('c1', { status: 'creating' })];

  it('go with the record (lease renewed) while the run holds the wave', () => {
    const renewed = newLease('run-a', T0 + 10, 60_000);
    const decision = decideMembers(wave({ lease: mine }), {
      lease: renewed,
      now: T0 + 10,
      members: rows,
      startsCustomers: true,
    });
    expect(decision.result.outcome).toBe('written');
    expect(decision.write).toMatchObject({ lease: renewed, updatedAt: new Date(T0 + 10).toISOString() });
    expect(decision.members).toEqual(rows);
    expect(decision.slot).toBeUndefined();
  });

  it('are refused once another run holds the wave, or it ended', () => {
    for (const current of [wave({ lease: theirs }), wave(), wave({ state: 'completed', lease: mine }), undefined]) {
      const decision = decideMembers(current, { lease: mine, now: T0, members: rows, startsCustomers: false });
      expect(decision).toEqual({ result: { outcome: 'lost' } });
    }
  });

  it('that start customers are refused once the wave is paused or cancelled; what happened to one is still written', () => {
    for (const state of ['paused', 'following'] as WaveState[]) {
      const current = wave({ state, lease: mine });
      const starting = decideMembers(current, { lease: mine, now: T0, members: rows, startsCustomers: true });
      expect(starting).toEqual({ result: { outcome: 'not-running', wave: current } });
      const recording = decideMembers(current, { lease: mine, now: T0, members: rows, startsCustomers: false });
      expect(recording.result.outcome).toBe('written');
      expect(recording.members).toEqual(rows);
    }
  });
});

describe('where a wave stands after a run', () => {
  const settle = (current: WaveRecord, open: number, inFlight: number) =>
    decideSettle(current, { lease: mine, now: T0 + 99, tally: { open, inFlight } });

  it('a running wave with customers left to start stays as it is', () => {
    expect(settle(wave({ lease: mine }), 3, 5)).toEqual({
      result: { outcome: 'unchanged', wave: wave({ lease: mine }) },
    });
  });

  it('no customer left to start: it follows its upgrades and frees the slot', () => {
    for (const state of ['running', 'paused'] as WaveState[]) {
      const decision = settle(wave({ state, lease: mine }), 0, 2);
      expect(decision.result).toMatchObject({ outcome: 'moved', from: state, wave: { state: 'following' } });
      expect(decision.write).toMatchObject({ state: 'following', createsDoneAt: new Date(T0 + 99).toISOString() });
      expect(decision.slot).toEqual({ lastWaveId: WAVE });
    }
  });

  it('every member settled: completed (the slot freed if it still held it), or cancelled when it was cancelled', () => {
    const fromRunning = settle(wave({ lease: mine }), 0, 0);
    expect(fromRunning.write).toMatchObject({ state: 'completed', finishedAt: new Date(T0 + 99).toISOString() });
    expect(fromRunning.write?.lease).toBeUndefined();
    expect(fromRunning.slot).toEqual({ lastWaveId: WAVE });
    const fromFollowing = settle(wave({ state: 'following', lease: mine }), 0, 0);
    expect(fromFollowing.write).toMatchObject({ state: 'completed' });
    // A wave that no longer held the slot never writes it: another wave may hold it now.
    expect(fromFollowing.slot).toBeUndefined();
    const cancelled = settle(wave({ state: 'following', cancelledAt: 'then', lease: mine }), 0, 0);
    expect(cancelled.write).toMatchObject({ state: 'cancelled', cancelledAt: 'then' });
  });

  it('a following wave with upgrades still running stays as it is', () => {
    expect(settle(wave({ state: 'following', lease: mine }), 0, 1).result.outcome).toBe('unchanged');
  });

  it('a run that lost the wave changes nothing', () => {
    expect(settle(wave({ lease: theirs }), 0, 0)).toEqual({ result: { outcome: 'lost' } });
  });
});

describe('release at the end of a run', () => {
  it("drops the run's own lease and keeps the last error", () => {
    const decision = decideRelease(wave({ lease: mine }), { lease: mine, now: T0 + 1, error: 'boom' });
    expect(decision.result.outcome).toBe('released');
    expect(decision.write?.lease).toBeUndefined();
    expect(decision.write).toMatchObject({ lastError: 'boom', lastErrorAt: new Date(T0 + 1).toISOString() });
  });

  it("never touches another run's lease", () => {
    expect(decideRelease(wave({ lease: theirs }), { lease: mine, now: T0 })).toEqual({ result: { outcome: 'lost' } });
  });
});

describe("the operator's pause, resume and cancel", () => {
  const at = new Date(T0 + 7).toISOString();
  const command = (state: WaveState, what: WaveCommand, extra: Partial<WaveRecord> = {}) =>
    decideCommand(wave({ state, ...extra }), what, T0 + 7);

  it('pause: a running wave starts no customer until resumed', () => {
    expect(command('running', 'pause').write).toMatchObject({ state: 'paused', pausedAt: at });
    expect(command('running', 'pause').slot).toBeUndefined();
  });

  it('resume: a paused wave runs again', () => {
    const decision = command('paused', 'resume', { pausedAt: 'then' });
    expect(decision.write).toMatchObject({ state: 'running' });
    expect(decision.write?.pausedAt).toBeUndefined();
  });

  it('cancel: a running or paused wave starts none again, follows what it started, and frees the slot', () => {
    for (const state of ['running', 'paused'] as WaveState[]) {
      const decision = command(state, 'cancel');
      expect(decision.write).toMatchObject({ state: 'following', cancelledAt: at });
      expect(decision.slot).toEqual({ lastWaveId: WAVE });
    }
  });

  it('every command that does not apply is refused, naming why, and writes nothing', () => {
    const cases: [WaveState, WaveCommand, RegExp, Partial<WaveRecord>?][] = [
      ['paused', 'pause', /paused already/],
      ['following', 'pause', /no customer is left to start/],
      ['completed', 'pause', /ended \(completed\)/],
      ['cancelled', 'pause', /ended \(cancelled\)/],
      ['running', 'resume', /not paused/],
      ['following', 'resume', /no customer is left to start/],
      ['completed', 'resume', /ended/],
      ['cancelled', 'resume', /ended/],
      ['following', 'cancel', /no customer is left to start/],
      ['following', 'cancel', /cancelled already/, { cancelledAt: 'then' }],
      ['completed', 'cancel', /ended/],
      ['cancelled', 'cancel', /ended/],
    ];
    for (const [state, what, why, extra] of cases) {
      const decision = command(state, what, extra);
      expect({ state, what, outcome: decision.result.outcome, write: decision.write }).toEqual({
        state,
        what,
        outcome: 'refused',
        write: undefined,
      });
      expect(decision.result.outcome === 'refused' && decision.result.why).toMatch(why);
    }
  });

  it('a command for no wave is not found', () => {
    expect(decideCommand(undefined, 'pause', T0)).toEqual({ result: { outcome: 'not-found' } });
  });
});
