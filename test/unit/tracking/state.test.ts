import fc from 'fast-check';
import type { NormalizedUpgradeStatus } from '../../../shared/partner-center/types';
import {
  applyObservation,
  INITIAL_STATE,
  isFinal,
  markStale,
  rankOf,
  type Observation,
  type TrackedState,
} from '../../../shared/tracking/state';

const at = (status: NormalizedUpgradeStatus, observedAt: number, rawStatus: string = status): Observation => ({
  status,
  rawStatus,
  observedAt,
});

describe('upgrade state machine', () => {
  it('moves forward through the known statuses', () => {
    let state = applyObservation(INITIAL_STATE, at('Pending', 1)).state;
    expect(state.status).toBe('Pending');
    const t = applyObservation(state, at('InProgress', 2));
    expect(t.changed).toBe(true);
    state = applyObservation(t.state, at('Completed', 3)).state;
    expect(state).toMatchObject({ status: 'Completed', rank: 3, observedAt: 3 });
  });

  it('never regresses: InProgress then Pending stays InProgress', () => {
    const inProgress = applyObservation(INITIAL_STATE, at('InProgress', 1)).state;
    const t = applyObservation(inProgress, at('Pending', 2));
    expect(t).toMatchObject({ changed: false, ignored: 'regression', state: inProgress });
  });

  it('keeps a final status whatever comes next', () => {
    const failed = applyObservation(INITIAL_STATE, at('Failed', 1)).state;
    expect(applyObservation(failed, at('Completed', 2))).toMatchObject({ ignored: 'final', state: failed });
    expect(markStale(failed, 3)).toMatchObject({ ignored: 'final', state: failed });
  });

  it('ignores an observation older than the stored one', () => {
    const inProgress = applyObservation(INITIAL_STATE, at('InProgress', 100)).state;
    expect(applyObservation(inProgress, at('Completed', 99))).toMatchObject({ ignored: 'older', state: inProgress });
  });

  it('records an unknown status verbatim without lowering the rank reached', () => {
    const inProgress = applyObservation(INITIAL_STATE, at('InProgress', 1)).state;
    const t = applyObservation(inProgress, at('Unknown', 2, 'Validating'));
    expect(t).toMatchObject({ changed: true, state: { status: 'Unknown', rawStatus: 'Validating', rank: 2 } });
    expect(applyObservation(t.state, at('Pending', 3)).ignored).toBe('regression');
    expect(applyObservation(t.state, at('Completed', 3)).state.status).toBe('Completed');
  });

  it('marks a non-final upgrade Stale (final)', () => {
    const pending = applyObservation(INITIAL_STATE, at('Pending', 1)).state;
    const t = markStale(pending, 5);
    expect(t).toMatchObject({ changed: true, state: { status: 'Stale' } });
    expect(isFinal(t.state.status)).toBe(true);
  });

  it('property: any sequence of observations, in any order, never lowers the rank and never leaves a final status', () => {
    const statuses: NormalizedUpgradeStatus[] = [
      'Pending',
      'InProgress',
      'Completed',
      'Failed',
      'Cancelled',
      'Unknown',
    ];
    const observation = fc.record({
      status: fc.constantFrom(...statuses),
      rawStatus: fc.string({ maxLength: 8 }),
      observedAt: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(
      fc.property(fc.array(observation, { maxLength: 30 }), (observations) => {
        let state: TrackedState = INITIAL_STATE;
        for (const o of observations) {
          const next = applyObservation(state, o).state;
          expect(next.rank).toBeGreaterThanOrEqual(state.rank);
          if (isFinal(state.status)) expect(next).toBe(state);
          if (state.observedAt !== undefined) expect(next.observedAt).toBeGreaterThanOrEqual(state.observedAt);
          if (next.status !== 'Unknown') expect(next.rank).toBe(rankOf(next.status));
          state = next;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('property: the final status reached does not depend on delivery order when times are distinct and increasing', () => {
    // Observations carry their own time, so replaying them shuffled converges on the newest final one.
    fc.assert(
      fc.property(
        fc.shuffledSubarray(['Pending', 'InProgress', 'Completed'] as const, { minLength: 3, maxLength: 3 }),
        (order) => {
          const times = { Pending: 1, InProgress: 2, Completed: 3 };
          let state: TrackedState = INITIAL_STATE;
          for (const status of order) state = applyObservation(state, at(status, times[status])).state;
          expect(state.rank).toBe(3);
        },
      ),
    );
  });
});
