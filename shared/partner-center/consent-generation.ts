import { randomBytes } from 'node:crypto';
import type { SecretTags, SecretVersion } from '../secrets/types';

/**
 * Which consent a refresh token descends from. Every `npm run consent` starts a new generation; every token the app
 * rotates from it keeps that generation. Ordered by `at` (ms since the epoch), then by `nonce`, so two consents made
 * in the same millisecond still have one order that every instance agrees on.
 */
export interface ConsentGeneration {
  at: number;
  nonce: string;
}

/** The Key Vault tag (on each version of `partner-center-refresh-token`) that holds the generation. */
export const GENERATION_TAG = 'consent-generation';

const GENERATION = /^(\d{1,16})(?:\.([0-9a-f]{1,32}))?$/;

export function formatGeneration(generation: ConsentGeneration): string {
  return generation.nonce ? `${generation.at}.${generation.nonce}` : String(generation.at);
}

export function parseGeneration(text: string | undefined): ConsentGeneration | undefined {
  const match = GENERATION.exec(text ?? '');
  if (!match) return undefined;
  const at = Number(match[1]);
  return Number.isSafeInteger(at) ? { at, nonce: match[2] ?? '' } : undefined;
}

export function generationTags(generation: ConsentGeneration): SecretTags {
  return { [GENERATION_TAG]: formatGeneration(generation) };
}

/**
 * The generation of a stored version: its tag; a version stored without one (by hand, the deployment's placeholder,
 * an older release of the app) counts from when it was created, so a token an operator stores later still wins.
 */
export function generationOf(version: Pick<SecretVersion, 'tags' | 'createdOn'>): ConsentGeneration {
  return parseGeneration(version.tags[GENERATION_TAG]) ?? { at: version.createdOn ?? 0, nonce: '' };
}

/** Negative when `a` is older than `b`, 0 when they are the same generation, positive when `a` is newer. */
export function compareGenerations(a: ConsentGeneration, b: ConsentGeneration): number {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  return a.nonce === b.nonce ? 0 : a.nonce < b.nonce ? -1 : 1;
}

/**
 * The generation of a new consent: its time, but always after the generation the vault holds now (a clock behind
 * the vault's must not make the new consent lose), with a random nonce to order two consents of the same ms.
 */
export function nextGeneration(
  current: ConsentGeneration | undefined,
  now: number,
  nonce: string = randomBytes(4).toString('hex'),
): ConsentGeneration {
  return { at: Math.max(now, (current?.at ?? -1) + 1), nonce };
}
