import { createHash } from 'node:crypto';

/**
 * The one encoder for every Table Storage PartitionKey and RowKey built from outside data (upgrade ids, customer
 * ids, ...). Table keys must not contain `/ \ # ?` or control characters and are limited to 1 KiB.
 *
 * Scheme: `[A-Za-z0-9-_.]` pass through; every other UTF-16 code unit becomes `~` + 4 lowercase hex digits (`~` itself
 * included). Because `~` only ever starts a fixed-width escape the mapping is injective and reversible, GUIDs and
 * plain ids stay readable, and the output is plain ASCII.
 */

/** 1 KiB measured in UTF-16 (how the service sizes strings), so at most 512 characters. */
export const MAX_KEY_CHARS = 512;

export class KeyTooLongError extends Error {
  constructor(readonly length: number) {
    super(`Table key of ${length} characters after encoding exceeds ${MAX_KEY_CHARS}`);
    this.name = 'KeyTooLongError';
  }
}

function passesThrough(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x2d || // -
    code === 0x5f || // _
    code === 0x2e // .
  );
}

export function encodeKey(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    out += passesThrough(code) ? value[i] : `~${code.toString(16).padStart(4, '0')}`;
  }
  if (out.length > MAX_KEY_CHARS) throw new KeyTooLongError(out.length);
  return out;
}

/** Joins already-encoded parts with `!`, which never appears inside an encoded part (so the join stays injective). */
export function joinKey(...parts: string[]): string {
  return parts.join('!');
}

/** Largest epoch-ms a JS Date can hold; inverted keys count down from it. */
const MAX_EPOCH_MS = 8_640_000_000_000_000;
const TIME_WIDTH = 16;

function checkTime(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_EPOCH_MS) throw new RangeError(`Not an epoch time: ${ms}`);
  return Math.floor(ms);
}

/** Fixed-width, zero-padded epoch ms: lexical order = time order (oldest first). */
export function timeKey(epochMs: number): string {
  return String(checkTime(epochMs)).padStart(TIME_WIDTH, '0');
}

export function parseTimeKey(key: string): number {
  return Number(key.slice(0, TIME_WIDTH));
}

/** Inverted ticks, fixed width: lexical order = newest first. */
export function newestFirstKey(epochMs: number): string {
  return String(MAX_EPOCH_MS - checkTime(epochMs)).padStart(TIME_WIDTH, '0');
}

/** Fixed-width sequence key (history rows in order). */
export function sequenceKey(sequence: number): string {
  return String(sequence).padStart(10, '0');
}

/** A short, stable digest (hex) for keys derived from arbitrary content. */
export function digestKey(content: string, length = 32): string {
  return createHash('sha256').update(content, 'utf8').digest('hex').slice(0, length);
}
