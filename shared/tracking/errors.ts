import { clip, MAX_ERROR_CHARS } from './entities';

/**
 * The shape of the errors the Partner Center client throws (`PartnerCenterError` in shared/partner-center). The
 * tracking domain depends only on this structure, so it works with the client and with test doubles alike.
 */
export interface PartnerCenterErrorLike {
  category: string;
  retryAfterMs?: number;
  status?: number;
  code?: number | string;
  message?: string;
}

const CATEGORIES = ['throttled', 'transient', 'auth', 'not-found', 'conflict', 'business-rule', 'invalid-input'];

export function asPartnerCenterError(error: unknown): PartnerCenterErrorLike | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const category = (error as { category?: unknown }).category;
  return typeof category === 'string' && CATEGORIES.includes(category) ? (error as PartnerCenterErrorLike) : undefined;
}

/** A short description of a failure for the `lastError` column: kind, status, code and message; no stack. */
export function describeError(error: unknown): { category: string; text: string } {
  const pc = asPartnerCenterError(error);
  if (pc) {
    const parts = [pc.status !== undefined ? `HTTP ${pc.status}` : '', pc.code !== undefined ? `code ${pc.code}` : ''];
    const head = [pc.category, ...parts.filter(Boolean)].join(' ');
    return { category: pc.category, text: clip(`${head}: ${pc.message ?? ''}`, MAX_ERROR_CHARS) };
  }
  if (error instanceof Error)
    return { category: 'internal', text: clip(`${error.name}: ${error.message}`, MAX_ERROR_CHARS) };
  return { category: 'internal', text: clip(String(error), MAX_ERROR_CHARS) };
}
