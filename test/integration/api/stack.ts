import { startAzurite, type RunningAzurite } from '../../../dev/azurite';
import { appSettingsFor, startSimulator, type RunningSimulator, type SimulatorOptions } from '../../../dev/simulator';
import { resetServices } from '../../../shared/services';
import { signPayload } from '../../../shared/webhooks';
import { startTestLocalHost, type TestLocalHost } from '../../helpers/local-host';
import { openApiViolations } from '../../helpers/openapi';

/**
 * The whole local stack for API and end-to-end tests: its own in-memory Azurite (the queue names are fixed, so a
 * shared Azurite would let another file's host consume our tracking messages), the Partner Center simulator over
 * loopback HTTP, and the real app in the local host, configured through its settings only.
 */
export interface ApiStack {
  azurite: RunningAzurite;
  sim: RunningSimulator;
  host: TestLocalHost;
  /** The settings the host was started with (AzureWebJobsStorage included). */
  settings: Record<string, string>;
  stop(): Promise<void>;
}

export const SIGNING_SECRET = 'test-webhook-signing-secret-not-a-real-one';

export async function startApiStack(
  options: { simulator?: SimulatorOptions; settings?: Record<string, string>; tablePrefix?: string } = {},
): Promise<ApiStack> {
  const azurite = await startAzurite();
  let sim: RunningSimulator | undefined;
  try {
    sim = await startSimulator({ port: 0, ...options.simulator });
    const settings: Record<string, string> = {
      AzureWebJobsStorage: azurite.connectionString,
      TABLE_NAME_PREFIX: options.tablePrefix ?? 'api',
      ...appSettingsFor(sim),
      PARTNER_CENTER_TIMEOUT_SECONDS: '5',
      PARTNER_CENTER_MAX_ATTEMPTS: '2',
      KEY_VAULT_URL: '',
      WEBHOOK_SIGNING_SECRET: SIGNING_SECRET,
      // The timer never fires by itself in tests: runs are started explicitly.
      POLL_SCHEDULE: '0 0 0 1 1 *',
      ...options.settings,
    };
    // startTestLocalHost takes storage from the environment (the shared test Azurite); point it at ours.
    process.env.AzureWebJobsStorage = azurite.connectionString;
    // The app builds its services once per process from the settings: a new stack needs new services.
    resetServices();
    const host = await startTestLocalHost({
      settings,
      hostJson: { extensions: { queues: { maxPollingInterval: '00:00:00.200' } } },
    });
    const running = sim;
    return {
      azurite,
      sim: running,
      host,
      settings,
      async stop() {
        await host.stop();
        resetServices();
        await running.close();
        await azurite.stop();
      },
    };
  } catch (error) {
    await sim?.close();
    await azurite.stop();
    throw error;
  }
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  text: string;
}

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
}

async function toApiResponse(response: Response): Promise<ApiResponse> {
  const text = await response.text();
  let body: unknown = undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      body = text;
    }
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
  return { status: response.status, headers, body, text };
}

export interface PostOptions {
  /** Extra headers; `x-signature: null` sends no signature. */
  headers?: Record<string, string | null>;
  /** Sign with this secret instead of the stack's. */
  secret?: string;
  contentType?: string | null;
}

/** POSTs a raw body, signed as the billing system signs it (unless told otherwise). */
export async function post(
  baseUrl: string,
  path: string,
  body: string,
  options: PostOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  const contentType = options.contentType === undefined ? 'application/json' : options.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  headers['x-signature'] = signPayload(body, options.secret ?? SIGNING_SECRET);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === null) delete headers[name.toLowerCase()];
    else headers[name.toLowerCase()] = value;
  }
  return toApiResponse(await fetch(`${baseUrl}${path}`, { method: 'POST', headers, body }));
}

export async function postJson(
  baseUrl: string,
  path: string,
  json: unknown,
  options: PostOptions = {},
): Promise<ApiResponse> {
  return post(baseUrl, path, JSON.stringify(json), options);
}

export async function get(baseUrl: string, path: string): Promise<ApiResponse> {
  return toApiResponse(await fetch(`${baseUrl}${path}`));
}

/** The documented operation each path answers, for the OpenAPI check. */
function pathTemplate(path: string): string {
  const bare = path.split('?')[0].replace(/^\/api/, '');
  if (/^\/upgrades\/[^/]+$/.test(bare)) return '/upgrades/{upgradeId}';
  if (/^\/customers\/[^/]+\/upgrades$/.test(bare)) return '/customers/{customerId}/upgrades';
  return bare;
}

/** Asserts a response matches the OpenAPI document and is not a 500 (every test calls this on every response). */
export function expectDocumented(method: string, path: string, response: ApiResponse): void {
  expect(response.status).not.toBe(500);
  const violations = openApiViolations(method, pathTemplate(path), response);
  if ((response.headers['content-type'] ?? '').startsWith('application/problem+json')) {
    const instance = (response.body as { instance?: unknown }).instance;
    if (instance !== `/api${path.split('?')[0]}`) violations.push(`problem instance is ${String(instance)}`);
  }
  expect({ status: response.status, path, violations }).toEqual({ status: response.status, path, violations: [] });
}
