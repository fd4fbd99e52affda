import type { HostedStack, HttpAnswer, PostOptions } from '../../dev/stack';
import { openApiViolations } from './openapi';

/** A problem-details body as the tests read it. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { field: string; message: string }[];
  partnerCenterCode?: number;
  partnerCenterDescription?: string;
  reason?: string;
  upgradeId?: string;
  waveId?: string;
  state?: string;
}

/** The documented operation each path answers, for the OpenAPI check. */
function pathTemplate(path: string): string {
  const bare = path.split('?')[0].replace(/^\/api/, '');
  if (/^\/upgrades\/[^/]+$/.test(bare)) return '/upgrades/{upgradeId}';
  if (/^\/customers\/[^/]+\/upgrades$/.test(bare)) return '/customers/{customerId}/upgrades';
  if (/^\/fleet\/scans\/[^/]+$/.test(bare)) return '/fleet/scans/{scanId}';
  if (/^\/fleet\/waves\/[^/]+$/.test(bare)) return '/fleet/waves/{waveId}';
  const command = /^\/fleet\/waves\/[^/]+\/(pause|resume|cancel)$/.exec(bare);
  if (command) return `/fleet/waves/{waveId}/${command[1]}`;
  return bare;
}

/** Asserts a response matches the OpenAPI document and is not a 500 (every API test calls this on every response). */
export function expectDocumented(method: string, path: string, response: HttpAnswer): void {
  expect(response.status).not.toBe(500);
  const violations = openApiViolations(method, pathTemplate(path), response);
  if ((response.headers['content-type'] ?? '').startsWith('application/problem+json')) {
    const instance = (response.body as { instance?: unknown }).instance;
    if (instance !== `/api${path.split('?')[0]}`) violations.push(`problem instance is ${String(instance)}`);
  }
  expect({ status: response.status, path, violations }).toEqual({ status: response.status, path, violations: [] });
}

/**
 * The stack's POST (signed) and GET (with `headers` if given), each answer checked with `expectDocumented` (`stack` is
 * read at each call).
 */
export function documentedCalls(stack: () => Pick<HostedStack, 'post' | 'get'>): {
  post(path: string, body: string | object, options?: PostOptions): Promise<HttpAnswer>;
  get(path: string, headers?: Record<string, string>): Promise<HttpAnswer>;
} {
  return {
    async post(path, body, options) {
      const response = await stack().post(path, body, options);
      expectDocumented('POST', path, response);
      return response;
    },
    async get(path, headers) {
      const response = await stack().get(path, headers);
      expectDocumented('GET', path, response);
      return response;
    },
  };
}
