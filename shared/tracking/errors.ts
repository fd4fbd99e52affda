import { PARTNER_CENTER_ERROR_CATEGORIES } from '../partner-center/errors';
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

const CATEGORIES: readonly string[] = PARTNER_CENTER_ERROR_CATEGORIES;

export function asPartnerCenterError(error: unknown): PartnerCenterErrorLike | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const category = (error as { category?: unknown }).category;
  return typeof category === 'string' && CATEGORIES.includes(category) ? (error as PartnerCenterErrorLike) : undefined;
}

/**
 * A failure for the `lastError*` columns: its category, Partner Center's error code when it sent one, and a short
 * description (kind, status, code and message; no stack) for operators — the read API shows the first two only.
 */
export function describeError(error: unknown): { category: string; code?: number; text: string } {
  const pc = asPartnerCenterError(error);
  if (pc) {
    const parts = [pc.status !== undefined ? `HTTP ${pc.status}` : '', pc.code !== undefined ? `code ${pc.code}` : ''];
    const head = [pc.category, ...parts.filter(Boolean)].join(' ');
    const code = Number(pc.code);
    return {
      category: pc.category,
      ...(pc.code !== undefined && Number.isSafeInteger(code) ? { code } : {}),
      text: clip(`${head}: ${pc.message ?? ''}`, MAX_ERROR_CHARS),
    };
  }
  if (error instanceof Error)
    return { category: 'internal', text: clip(`${error.name}: ${error.message}`, MAX_ERROR_CHARS) };
  return { category: 'internal', text: clip(String(error), MAX_ERROR_CHARS) };
}
