import type { ErrorDetailsSpec, LineItemView, RunningSimulator } from '../../../dev/simulator';

export const PC_SCOPE = 'https://api.partnercenter.microsoft.com/.default';

export interface TokenReply {
  status: number;
  body: Record<string, unknown>;
}

/** The refresh-token grant, as the app's credential sends it. */
export async function refreshGrant(
  sim: RunningSimulator,
  overrides: Record<string, string> = {},
  tenant = sim.credentials.tenantId,
): Promise<TokenReply> {
  const form = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: sim.credentials.clientId,
    client_secret: sim.credentials.clientSecret,
    refresh_token: sim.credentials.refreshToken,
    scope: PC_SCOPE,
    ...overrides,
  });
  const response = await fetch(`${sim.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function accessToken(sim: RunningSimulator): Promise<string> {
  const reply = await refreshGrant(sim);
  if (reply.status !== 200) throw new Error(`token request failed: ${reply.status}`);
  return reply.body.access_token as string;
}

/** One Partner Center call with the headers the client sends. */
export async function pc(
  sim: RunningSimulator,
  path: string,
  body: unknown,
  options: { token?: string; headers?: Record<string, string>; raw?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'Content-Type': 'application/json',
    'MS-Contract-Version': 'v1',
    ...options.headers,
  };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return fetch(`${sim.url}${path}`, { method: 'POST', headers, body: options.raw ?? JSON.stringify(body) });
}

export async function admin<T = Record<string, unknown>>(
  sim: RunningSimulator,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${sim.url}/_sim${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await response.json()) as T;
}

/** A Partner Center response body, typed loosely enough for assertions on any of the operations' shapes. */
export interface WireBody {
  [key: string]: unknown;
  code?: number;
  description?: string;
  id?: string;
  status?: string;
  reason?: string;
  isEligible?: boolean;
  upgradeId?: string;
  lineItems: LineItemView[];
  errorDetails?: ErrorDetailsSpec;
}

export async function json(response: Response): Promise<WireBody> {
  return (await response.json()) as WireBody;
}

/** One fleet GET with the headers the client sends (`headers` adds MS-ContinuationToken and the like). */
export async function pcGet(
  sim: RunningSimulator,
  path: string,
  options: { token?: string; headers?: Record<string, string>; method?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'MS-Contract-Version': 'v1',
    ...options.headers,
  };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  return fetch(`${sim.url}${path}`, { method: options.method ?? 'GET', headers });
}

/** A collection page of the fleet routes, typed loosely for assertions. */
export interface WireCollection {
  totalCount: number;
  items: Array<Record<string, unknown>>;
  continuationToken?: string;
  links?: {
    self?: { uri: string };
    next?: { uri: string; method: string; headers: Array<{ key: string; value: string }> };
  };
  attributes: { objectType: string };
}

export async function collection(response: Response): Promise<WireCollection> {
  return (await response.json()) as WireCollection;
}
