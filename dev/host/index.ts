import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { QueueClient } from '@azure/storage-queue';
import type { StorageConfig } from '../../shared/config';
import { createQueueClient } from '../../shared/storage/clients';
import { loadHostSettings, type HostJsonOverrides, type HostSettings } from './host-json';
import {
  compileHttpRoutes,
  findRoute,
  readBody,
  sendJson,
  toHttpRequest,
  writeHandlerResult,
  type HttpRoute,
} from './http-server';
import { hostLine, invoke, type LogSink } from './invoke';
import { functionModulePaths } from './modules';
import { resolveSchedule } from './ncrontab';
import { QueueListener } from './queue-listener';
import {
  appRegistry,
  installRegistrationCapture,
  type FunctionRegistry,
  type HttpRegistration,
  type Registration,
} from './registry';
import { TimerScheduler } from './timer-scheduler';

export { FunctionRegistry, installRegistrationCapture, appRegistry } from './registry';
export type { Registration, HttpRegistration, QueueRegistration, TimerRegistration } from './registry';
export type { HostJsonOverrides } from './host-json';

export interface LocalHostOptions {
  /** Port for HTTP functions and the admin API; default 7071; 0 picks a free port. */
  port?: number;
  /** Address to bind; default 127.0.0.1 (function keys are not enforced, so loopback only). */
  hostname?: string;
  /** App settings, put into process.env before the function modules load (they win over the environment). */
  settings?: Record<string, string>;
  /** Overrides merged over host.json (e.g. a shorter visibilityTimeout in tests). */
  hostJson?: HostJsonOverrides;
  /** Folder with the app's package.json (`main` lists the function modules) and host.json; default: this project. */
  appRoot?: string;
  /** Run these registrations instead of loading the app's modules (tests define their own functions). */
  functions?: FunctionRegistry;
  /** Receives every log line; default: stdout. */
  log?: (line: string) => void;
}

export interface LocalHost {
  /** Base URL, e.g. http://localhost:7071 (HTTP functions live under `${url}/api/...`). */
  url: string;
  port: number;
  registrations: readonly Registration[];
  /** Runs a non-HTTP function now, like POST /admin/functions/{name}; resolves when it ends, rejects if it fails. */
  runFunction(name: string, input?: string): Promise<void>;
  /** Stops HTTP, polling and timers, and waits for invocations in flight. */
  stop(): Promise<void>;
}

const runningFromSources = __filename.endsWith('.ts');
/** dev/host → project root from sources; dist/dev/host → project root when compiled. */
const PROJECT_ROOT = path.resolve(__dirname, runningFromSources ? '../..' : '../../..');

/** Loads the app's function modules (package.json `main`) with registration capture in place. */
export function loadAppRegistrations(appRoot = PROJECT_ROOT): readonly Registration[] {
  installRegistrationCapture();
  for (const file of functionModulePaths(appRoot, runningFromSources)) {
    // require, not import(): the list is known only at run time, and jest resolves require through its registry.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(file);
  }
  if (appRegistry.registrations.length === 0) {
    throw new Error(
      'No function registrations were captured: the function modules were probably imported before ' +
        'installRegistrationCapture() ran (in jest, keep test/helpers/capture-registrations.ts in setupFiles)',
    );
  }
  return appRegistry.registrations;
}

function queueClientFor(connection: string | undefined, queueName: string, env: NodeJS.ProcessEnv): QueueClient {
  const name = connection ?? 'AzureWebJobsStorage';
  const connectionString = env[name];
  const queueServiceUri = env[`${name}__queueServiceUri`];
  let storage: StorageConfig;
  if (connectionString) storage = { kind: 'connectionString', connectionString };
  else if (queueServiceUri) {
    storage = { kind: 'identity', queueServiceUri, tableServiceUri: '', clientId: env[`${name}__clientId`] };
  } else {
    throw new Error(`Queue connection "${name}" is not set (a connection string, or ${name}__queueServiceUri)`);
  }
  return createQueueClient(storage, queueName);
}

function describeRegistration(registration: Registration, url: string, settings: HostSettings): string {
  switch (registration.kind) {
    case 'http': {
      const methods = registration.options.methods?.join(',') ?? 'all';
      const route = registration.options.route ?? registration.name;
      return `${registration.name}: [${methods}] ${url}/${settings.routePrefix ? `${settings.routePrefix}/` : ''}${route}`;
    }
    case 'storageQueue':
      return `${registration.name}: queueTrigger (${registration.options.queueName})`;
    case 'timer':
      return `${registration.name}: timerTrigger (${registration.options.schedule})`;
    default:
      return `${registration.name}: ${registration.trigger} (not supported by the local host: will not run)`;
  }
}

export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  const log: LogSink = options.log ?? ((line) => process.stdout.write(`${line}\n`));
  const appRoot = options.appRoot ?? PROJECT_ROOT;
  Object.assign(process.env, options.settings ?? {});
  const env = process.env;
  const settings = loadHostSettings(appRoot, options.hostJson);
  const registrations = options.functions ? options.functions.registrations : loadAppRegistrations(appRoot);

  const httpRoutes: HttpRoute[] = compileHttpRoutes(
    registrations.filter((r): r is HttpRegistration => r.kind === 'http'),
  );
  const timers = new Map<string, TimerScheduler>();
  const listeners = new Map<string, QueueListener>();
  for (const registration of registrations) {
    if (registration.kind === 'timer') {
      timers.set(registration.name.toLowerCase(), new TimerScheduler({ registration, env, log }));
    } else if (registration.kind === 'storageQueue') {
      const queueName = resolveSchedule(registration.options.queueName, env).toLowerCase();
      const connection = registration.options.connection;
      listeners.set(
        registration.name.toLowerCase(),
        new QueueListener({
          registration,
          queue: queueClientFor(connection, queueName, env),
          poison: queueClientFor(connection, `${queueName}-poison`, env),
          settings: settings.queues,
          log,
        }),
      );
    }
    const extra = registration.kind === 'unsupported' ? undefined : registration.options;
    if (extra && ((extra.extraInputs?.length ?? 0) > 0 || (extra.extraOutputs?.length ?? 0) > 0)) {
      log(hostLine(`[Warning] ${registration.name}: extra input/output bindings are not supported by the local host`));
    }
  }

  const runFunction = async (name: string, input?: string): Promise<void> => {
    const timer = timers.get(name.toLowerCase());
    if (timer) return timer.runNow();
    const listener = listeners.get(name.toLowerCase());
    if (listener) return listener.runWithText(input ?? '');
    const known = registrations.find((r) => r.name.toLowerCase() === name.toLowerCase());
    throw new Error(
      known ? `Function "${name}" is not run through the admin API (${known.kind})` : `No function named "${name}"`,
    );
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(hostLine(`[Error] HTTP ${req.method} ${req.url}: ${(error as Error).message}`));
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
    if (segments[0]?.toLowerCase() === 'admin' && segments[1]?.toLowerCase() === 'functions') {
      await handleAdmin(req, res, method, segments.slice(2));
      return;
    }
    const prefix = settings.routePrefix ? settings.routePrefix.split('/') : [];
    const underPrefix = prefix.every((p, i) => segments[i]?.toLowerCase() === p.toLowerCase());
    const lookup = underPrefix
      ? findRoute(httpRoutes, segments.slice(prefix.length), method)
      : { kind: 'notFound' as const };
    if (lookup.kind === 'notFound') {
      res.writeHead(404).end();
      return;
    }
    if (lookup.kind === 'methodNotAllowed') {
      res.writeHead(405, { allow: lookup.allowed.join(', ') }).end();
      return;
    }
    const body = await readBody(req);
    const request = toHttpRequest(req, body, lookup.params, `localhost:${port}`);
    const registration = lookup.route.registration;
    let result: unknown;
    try {
      result = await invoke(
        {
          functionName: registration.name,
          reason: 'This function was programmatically called via the host APIs.',
          triggerType: 'httpTrigger',
          log,
        },
        (context) => registration.options.handler(request, context),
      );
    } catch {
      res.writeHead(500).end(); // logged by invoke(); no stack trace leaves the host
      return;
    }
    await writeHandlerResult(result, res);
  };

  const handleAdmin = async (
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    rest: string[],
  ): Promise<void> => {
    if (rest.length === 0) {
      if (method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
      return sendJson(
        res,
        200,
        registrations.map((r) => ({
          name: r.name,
          trigger: r.kind,
          description: describeRegistration(r, baseUrl, settings),
        })),
      );
    }
    if (rest.length !== 1) return void res.writeHead(404).end();
    if (method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    const name = rest[0];
    const registration = registrations.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (!registration) return void res.writeHead(404).end();
    if (registration.kind === 'http' || registration.kind === 'unsupported') {
      return sendJson(res, 400, { error: `"${registration.name}" cannot be run through the admin API` });
    }
    const text = (await readBody(req)).toString('utf8');
    let input: string | undefined;
    if (text.trim() !== '') {
      try {
        const parsed = JSON.parse(text) as { input?: unknown };
        input = typeof parsed.input === 'string' ? parsed.input : undefined;
      } catch {
        return sendJson(res, 400, { error: 'The body must be JSON: { "input": "..." }' });
      }
    }
    // Like the host: accepted at once, the invocation runs in the background (its outcome is in the log).
    runFunction(registration.name, input).catch(() => undefined);
    res.writeHead(202).end();
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, options.hostname ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://localhost:${port}`;

  try {
    await Promise.all([...listeners.values()].map((listener) => listener.start()));
  } catch (error) {
    await Promise.all([...listeners.values()].map((listener) => listener.stop()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }
  for (const timer of timers.values()) timer.start();

  log(hostLine('Functions:'));
  for (const registration of registrations)
    log(hostLine(`    ${describeRegistration(registration, baseUrl, settings)}`));
  log(hostLine(`Host started: ${baseUrl} (admin: ${baseUrl}/admin/functions)`));

  let stopping: Promise<void> | undefined;
  return {
    url: baseUrl,
    port,
    registrations,
    runFunction,
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await Promise.all([
          ...[...timers.values()].map((t) => t.stop()),
          ...[...listeners.values()].map((l) => l.stop()),
          closed,
        ]);
      })();
      return stopping;
    },
  };
}
