import type { PageCursor, PagedList } from './types';

/**
 * Partner Center's paging links. Next links are not uniform: seen already starting with `/v1`
 * (`/v1/customers?size=500&seekOperation=Next`), host-relative without it (`/customers/usagerecords`), and a client
 * may meet absolute ones. A client that resolved `/v1/...` against the `/v1` base requested `/v1//v1/customers` and
 * listing broke for everyone; so the rules here are exact and tested property by property.
 */

/** A link or cursor that cannot be followed safely. */
export class LinkError extends Error {
  override readonly name = 'LinkError';
}

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const ROOTED_V1 = /^\/v1(?=[/?#]|$)/i;

/**
 * The URL to request for a link Partner Center sent. `apiRoot` is the API's base URL (PARTNER_CENTER_API_URL, a path
 * prefix allowed). A URI starting with `/v1/` resolves against the API root; any other relative URI against the
 * `/v1` base; an absolute one (with a scheme) is taken as it is — but only on the API's own origin, since the request
 * carries the partner's bearer token. Runs of `/` in the path collapse to one, so the path never contains `//` (and a
 * leading `//` is a doubled slash, not another host). The fragment is dropped; the query is kept byte for byte.
 */
export function resolveLink(apiRoot: string, uri: string): URL {
  const root = new URL(apiRoot);
  const trimmed = uri.trim();
  if (trimmed === '') throw new LinkError('the link is empty');
  // URL parsing drops tabs and newlines silently; a link holding control characters is refused instead.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw new LinkError('the link holds control characters');
  if (SCHEME.test(trimmed)) {
    let absolute: URL;
    try {
      absolute = new URL(trimmed, root);
    } catch {
      throw new LinkError('the link is not a valid URL');
    }
    if (absolute.origin !== root.origin) {
      throw new LinkError(`the link points to another origin (${absolute.origin}, not ${root.origin})`);
    }
    absolute.hash = '';
    absolute.pathname = collapseSlashes(absolute.pathname);
    return absolute;
  }
  const cut = trimmed.search(/[?#]/);
  // URL parsing reads `\` as `/` in http(s) paths: read it so first, or `\v1\…` would escape the /v1 rule.
  const path = collapseSlashes(`/${cut === -1 ? trimmed : trimmed.slice(0, cut)}`.replace(/\\/g, '/'));
  const rest = cut === -1 ? '' : trimmed.slice(cut).replace(/#.*$/, '');
  const prefix = root.pathname.replace(/\/+$/, '');
  const full = ROOTED_V1.test(path) ? `${prefix}${path}` : `${prefix}/v1${path}`;
  let resolved: URL;
  try {
    resolved = new URL(`${root.origin}${full}${rest}`);
  } catch {
    throw new LinkError('the link is not a valid URL');
  }
  resolved.pathname = collapseSlashes(resolved.pathname);
  // `..` segments could climb out of the API root: refuse what URL normalisation moved outside it.
  if (!resolved.pathname.startsWith(`${prefix}/`)) throw new LinkError('the link leaves the API root');
  return resolved;
}

function collapseSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

/** Headers a next link may not set: ours per request (ids, auth, contract headers) or the transport's. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'host',
  'connection',
  'content-length',
  'content-type',
  'transfer-encoding',
  'cookie',
  'ms-requestid',
  'ms-correlationid',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const MAX_HEADER_VALUE = 8192;
const MAX_HEADERS = 16;
const MAX_URI = 4096;

export const CONTINUATION_HEADER = 'MS-ContinuationToken';

/** The headers of a next link to send with it: valid ones, reserved ones dropped, one value per name. */
export function forwardableHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    checkHeader(name, value, 'the next link');
    const key = name.toLowerCase();
    if (RESERVED_HEADERS.has(key) || seen.has(key)) continue;
    seen.add(key);
    out[name] = value;
  }
  if (Object.keys(out).length > MAX_HEADERS) throw new LinkError(`the next link has more than ${MAX_HEADERS} headers`);
  return out;
}

function checkHeader(name: string, value: unknown, where: string): void {
  if (!HEADER_NAME.test(name)) throw new LinkError(`${where} has an invalid header name`);
  if (typeof value !== 'string' || value.length > MAX_HEADER_VALUE || /[\r\n\0]/.test(value)) {
    throw new LinkError(`${where} has an invalid value for header ${name}`);
  }
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(headers).some((key) => key.toLowerCase() === lower);
}

/** What a collection body says about the next page. */
export interface Continuation {
  /** `links.next`: its URI and headers as sent. */
  nextLink?: { uri: string; headers: Record<string, string> };
  /** A top-level `continuationToken` (Microsoft's bulk tool reads it; tolerated). */
  continuationToken?: string;
}

/**
 * The cursor of the next page, or undefined at the end. `links.next` wins, with its headers; a body
 * `continuationToken` is added as MS-ContinuationToken when the link's headers lack one. A body token alone
 * continues the request just made with `seekOperation=Next`.
 */
export function nextCursor(
  list: PagedList,
  continuation: Continuation,
  requested: URL,
  apiRoot: string,
): PageCursor | undefined {
  const token = continuation.continuationToken?.trim() ? continuation.continuationToken : undefined;
  let cursor: PageCursor | undefined;
  if (continuation.nextLink) {
    const headers = forwardableHeaders(continuation.nextLink.headers);
    if (token !== undefined && !hasHeader(headers, CONTINUATION_HEADER)) {
      checkHeader(CONTINUATION_HEADER, token, 'the body continuationToken');
      headers[CONTINUATION_HEADER] = token;
    }
    cursor = { list, uri: continuation.nextLink.uri, headers };
  } else if (token !== undefined) {
    checkHeader(CONTINUATION_HEADER, token, 'the body continuationToken');
    const prefix = new URL(apiRoot).pathname.replace(/\/+$/, '');
    const path = requested.pathname.startsWith(`${prefix}/`)
      ? requested.pathname.slice(prefix.length)
      : requested.pathname;
    const query = new URLSearchParams(requested.search);
    query.set('seekOperation', 'Next');
    cursor = { list, uri: `${path}?${query.toString()}`, headers: { [CONTINUATION_HEADER]: token } };
  }
  if (cursor) {
    if (cursor.uri.length > MAX_URI) throw new LinkError(`the next link is longer than ${MAX_URI} characters`);
    resolveLink(apiRoot, cursor.uri); // refuse now what could not be followed later
  }
  return cursor;
}

/** Two cursors that would fetch the same page: a server that repeats itself must not loop us forever. */
export function sameCursor(a: PageCursor, b: PageCursor): boolean {
  if (a.list !== b.list || a.uri !== b.uri) return false;
  const norm = (headers: Record<string, string>): string =>
    JSON.stringify(
      Object.entries(headers)
        .map(([k, v]) => [k.toLowerCase(), v])
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
    );
  return norm(a.headers) === norm(b.headers);
}

const LISTS: readonly PagedList[] = ['customers', 'usageRecords', 'subscriptions', 'agreements'];

/**
 * A cursor read back from storage, checked field by field (it proves nothing by having been stored): the list it
 * belongs to, a URI of sane length, at most 16 valid headers. Throws LinkError naming the field.
 */
export function parsePageCursor(value: unknown): PageCursor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LinkError('cursor must be an object');
  }
  const record = value as Record<string, unknown>;
  if (typeof record.list !== 'string' || !LISTS.includes(record.list as PagedList)) {
    throw new LinkError(`cursor.list must be one of ${LISTS.join(', ')}`);
  }
  if (typeof record.uri !== 'string' || record.uri.trim() === '' || record.uri.length > MAX_URI) {
    throw new LinkError(`cursor.uri must be a non-empty string of at most ${MAX_URI} characters`);
  }
  const headers = record.headers;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new LinkError('cursor.headers must be an object of header names to values');
  }
  const entries = Object.entries(headers as Record<string, unknown>);
  if (entries.length > MAX_HEADERS) throw new LinkError(`cursor.headers has more than ${MAX_HEADERS} entries`);
  const out: Record<string, string> = {};
  for (const [name, headerValue] of entries) {
    checkHeader(name, headerValue, 'cursor.headers');
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new LinkError(`cursor.headers may not set ${name}`);
    out[name] = headerValue as string;
  }
  return { list: record.list as PagedList, uri: record.uri, headers: out };
}
