import {
  decideReservation,
  expiredRange,
  expiryKeys,
  reservationKeys,
  reservationOfExpiry,
  webhookFingerprint,
  type ReservationRow,
} from '../../../shared/webhooks/reservations';

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

describe("a webhook-id's fingerprint and keys", () => {
  const BODY = '{"customerId":"0d9a2f0e-1f7b-4a36-9f0b-7d8c3b1e2a10"}';

  it('binds the id to the endpoint and the body bytes', () => {
    expect(webhookFingerprint('upgrades', BODY)).toBe(webhookFingerprint('upgrades', Buffer.from(BODY)));
    expect(webhookFingerprint('upgrades', BODY)).toMatch(/^upgrades:[0-9a-f]{64}$/);
    expect(webhookFingerprint('eligibility', BODY)).not.toBe(webhookFingerprint('upgrades', BODY));
    expect(webhookFingerprint('upgrades', `${BODY} `)).not.toBe(webhookFingerprint('upgrades', BODY));
  });

  it('finds an id by a point read: one of four partitions, the encoded id (or its digest when too long)', () => {
    const ids = ['msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', 'a/b#c?d\\e', `${'/~'.repeat(127)}x`, 'x'.repeat(255)];
    const keys = ids.map(reservationKeys);
    for (const key of keys) {
      expect(key.partitionKey).toMatch(/^w[0-3]$/);
      expect(key.rowKey).toMatch(/^i!/);
      expect(key.rowKey).not.toMatch(/[/\\#?]/);
      expect(key.rowKey.length).toBeLessThanOrEqual(512);
    }
    expect(new Set(keys.map((k) => `${k.partitionKey}/${k.rowKey}`)).size).toBe(ids.length);
    expect(reservationKeys(ids[0])).toEqual(keys[0]);
    // Spread over the partitions.
    const partitions = new Set(Array.from({ length: 64 }, (_, i) => reservationKeys(`msg_${i}`).partitionKey));
    expect(partitions.size).toBe(4);
  });

  it('has an expiry row in its partition that leads back to it, and is in the purge range once its hour is over', () => {
    const keys = reservationKeys('msg_1');
    const expiresAt = Date.UTC(2026, 10, 21, 4, 30);
    const expiry = expiryKeys(keys, expiresAt);
    expect(expiry.partitionKey).toBe(keys.partitionKey);
    expect(reservationOfExpiry(expiry)).toEqual(keys);
    const inRange = (now: number) => {
      const { from, before } = expiredRange(now);
      return expiry.rowKey >= from && expiry.rowKey < before;
    };
    expect(inRange(expiresAt)).toBe(false);
    expect(inRange(Date.UTC(2026, 10, 21, 4, 59, 59))).toBe(false);
    expect(inRange(Date.UTC(2026, 10, 21, 5, 0))).toBe(true);
    expect(inRange(Date.UTC(2027, 0, 1))).toBe(true);
    // Reservation rows themselves are never in the range.
    expect(keys.rowKey < expiredRange(Date.UTC(2027, 0, 1)).from).toBe(true);
  });
});
