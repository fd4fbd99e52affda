import { decideReservation, type ReservationRow } from '../../../shared/webhooks/reservations';

const NOW = 1_800_000_000_000;

function row(overrides: Partial<ReservationRow> = {}): ReservationRow {
  return {
    state: 'in-progress',
    fingerprint: 'f',
    createdAt: new Date(NOW - 1000).toISOString(),
    expiresAt: NOW + 3_600_000,
    leaseOwner: 'first',
    leaseUntil: NOW + 60_000,
    ...overrides,
  };
}

const candidate = row({ leaseOwner: 'second', leaseUntil: NOW + 300_000, expiresAt: NOW + 72 * 3_600_000 });
const completed = row({
  state: 'completed',
  leaseUntil: NOW - 500,
  responseStatus: 200,
  responseHeaders: '{"content-type":"application/json"}',
  responseBodyKind: 'json',
  responseChunks: 1,
  responseBody0: '{"ok":true}',
});

describe('decideReservation (pure)', () => {
  it('no row: the request inserts its own', () => {
    expect(decideReservation(undefined, candidate, NOW)).toEqual({
      result: { kind: 'acquired', takenOver: false },
      write: candidate,
    });
  });

  it('a completed row within its retention: its answer, nothing written', () => {
    const decision = decideReservation(completed, candidate, NOW);
    expect(decision).toEqual({
      result: {
        kind: 'completed',
        fingerprintMatches: true,
        response: { status: 200, headers: { 'content-type': 'application/json' }, jsonBody: { ok: true } },
      },
    });
    expect(decideReservation(completed, { ...candidate, fingerprint: 'g' }, NOW).result).toMatchObject({
      kind: 'completed',
      fingerprintMatches: false,
    });
  });

  it('a live lease: in progress, with the time it has left', () => {
    expect(decideReservation(row(), candidate, NOW)).toEqual({
      result: { kind: 'in-progress', fingerprintMatches: true, leaseRemainingMs: 60_000 },
    });
  });

  it('a lease that ran out is taken over; with another fingerprint it is not', () => {
    const dead = row({ leaseUntil: NOW });
    expect(decideReservation(dead, candidate, NOW)).toEqual({
      result: { kind: 'acquired', takenOver: true },
      write: candidate,
    });
    expect(decideReservation(dead, { ...candidate, fingerprint: 'g' }, NOW)).toEqual({
      result: { kind: 'in-progress', fingerprintMatches: false, leaseRemainingMs: 0 },
    });
  });

  it('a row past its expiry counts as absent, whatever its state, lease or fingerprint', () => {
    for (const stored of [completed, row(), row({ fingerprint: 'other' })]) {
      expect(decideReservation({ ...stored, expiresAt: NOW }, candidate, NOW)).toEqual({
        result: { kind: 'acquired', takenOver: true },
        write: candidate,
      });
    }
  });
});
