import { createHash, randomUUID } from 'node:crypto';

/**
 * GUIDs, the one place: customer, tenant, upgrade and event ids are GUIDs in their usual 8-4-4-4-12 hex form, checked
 * and written only here.
 */

/** The 8-4-4-4-12 form without anchors or flags, to build other patterns from (match it case-insensitively). */
export const GUID_SOURCE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** A whole string that is a GUID (any case). */
export const GUID_PATTERN = new RegExp(`^${GUID_SOURCE}$`, 'i');

const HEX32 = /^[0-9a-f]{32}$/i;

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID_PATTERN.test(value);
}

/** True for 32 hex digits (any case): a W3C trace id, or a GUID written without dashes. */
export function isHex32(value: string): boolean {
  return HEX32.test(value);
}

export function newGuid(): string {
  return randomUUID();
}

/** 32 hex digits written as a GUID (8-4-4-4-12), their case kept. Throws a RangeError for anything else. */
export function guidFromHex(hex: string): string {
  if (!HEX32.test(hex)) throw new RangeError('a GUID is written from 32 hex digits');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A stable GUID derived from text: the first 128 bits of its SHA-256, with the version nibble set to 4 and the variant
 * bits to RFC 4122's (so strict GUID parsers take it). The same text always gives the same id.
 */
export function guidFromDigest(text: string): string {
  const hex = createHash('sha256').update(text, 'utf8').digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return guidFromHex(`${hex.slice(0, 12)}4${hex.slice(13, 16)}${variant}${hex.slice(17, 32)}`);
}
