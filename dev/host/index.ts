import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { validationProblem } from '../../shared/http/problem';
import { loadHostSettings, type HostJsonOverrides, type HostSettings } from './host-json';
import { runAppStartHooks, runAppTerminateHooks } from './hooks';
import {
  compileRoute,
  findRoute,
  isLoopbackHost,
  pathSegments,
  readAdminInput,
  readBody,
  toHttpRequest,
  writeHandlerResult,
  type HttpRoute,
} from './http-server';
import { hostLine, invoke, type FinishedInvocation, type LogSink } from './invoke';
import { loadApp } from './modules';
import { QueueListener, queueClientFor } from './queue-listener';
import type { FunctionRegistry, Registration } from './registry';
import { resolveAppSettings } from './settings';
import { systemClock, TimerScheduler, type TimerClock } from './timer-scheduler';

export { FunctionRegistry, installRegistrationCapture, appRegistry } from './registry';
export type { Registration, HttpRegistration, QueueRegistration, TimerRegistration } from './registry';
export type { HostJsonOverrides } from './host-json';
export type { FinishedInvocation } from './invoke';
export type { TimerClock } from './timer-scheduler';

/**
 * The project's own Functions host: it runs the app's HTTP, storage queue and timer functions on one machine, the way
 * the Functions host and its Node worker run them in Azure, where Core Tools cannot be installed. It loads
 * package.json `main` (from the TypeScript sources under jest), runs the app's hooks, serves HTTP functions under the
 * host.json route prefix, polls queues, fires timers, and answers the admin API (`GET /admin/functions`,
 * `POST /admin/functions/{name}`). It answers only requests addressed to the loopback interface.
 */

export interface LocalHostOptions {
  /** Port for HTTP functions and the admin API; default 7071; 0 picks a free port. */
  port?: number;
  /** Address to bind; default 127.0.0.1 (function keys are not enforced, so loopback only). */
  hostname?: string;
  /** App settings, put into process.env before the function modules load (they win over the environment). */
  settings?: Record<string, string>;
  /** Overrides merged over host.json (e.g. a shorter visibilityTimeout in tests). */
  hostJson?: HostJsonOverrides;
  /** Folder with the app's package.json (`main`) and host.json; default: this project. */
  appRoot?: string;
  /** Run these registrations instead of loading the app (tests define their own functions). */
  functions?: FunctionRegistry;
  /** What timers wait on; default the system clock. */
  clock?: TimerClock;
  /** Receives every log line; default: stdout. */
  log?: (line: string) => void;
  /** Told each time an invocation ends (any trigger, the admin API included), after its `Executed` line. */
  onInvocation?: (finished: FinishedInvocation) => void;
}

export interface LocalHost {
  /** Base URL, e.g. http://localhost:7071 (HTTP functions live under `${url}/api/...`). */
  url: string;
  port: number;
  registrations: readonly Registration[];
  /** Runs a function now, like POST /admin/functions/{name}; resolves when it ends, rejects if it fails. */
  runFunction(name: string, input?: string): Promise<void>;
  /** Stops HTTP, polling and timers, waits for invocations in flight, then runs the appTerminate hooks. */
  stop(): Promise<void>;
}

const runningFromSources = __filename.endsWith('.ts');
/** dev/host → project root from sources; dist/dev/host → project root when compiled. */
const PROJECT_ROOT = path.resolve(__dirname, runningFromSources ? '../..' : '../../..');

/** What a function runs on, as the host indexed it: its route, queue listener or timer, and its trigger binding. */
interface Runner {
  binding: { type: string } & Record<string, unknown>;
  route?: HttpRoute;
  start(): Promise<void> | void;
  stop(): Promise<void>;
  /** One run now (the admin API); resolves when it ends, rejects if it fails. */
  run(input?: string): Promise<void>;
}

/** Binds one registration the way the host indexes a function; throws the reason the function is in error. */
function bind(
  registration: Registration,
  env: NodeJS.ProcessEnv,
  host: HostSettings,
  clock: TimerClock,
  log: LogSink,
): Runner {
  const { extraInputs = [], extraOutputs = [] } = registration.options;
  if (extraInputs.length + extraOutputs.length > 0) throw new Error('the local host runs no extra input or output');
  switch (registration.kind) {
    case 'http': {
      const route = compileRoute(registration);
      const reason = 'This function was programmatically called via the host APIs.';
      return {
        binding: { type: 'httpTrigger', methods: route.methods, route: route.template },
        route,
        start: () => undefined,
        stop: () => Promise.resolve(),
        // The host accepts the run, and the invocation fails: its trigger binds only to an HTTP request.
        run: () =>
          invoke({ functionName: registration.name, reason, triggerType: 'httpTrigger', log }, () => {
            throw new Error('An HTTP function runs only from its route: the admin API has no HTTP request to give it');
          }),
      };
    }
    case 'storageQueue': {
      const { connection } = registration.options;
      const queueName = resolveAppSettings(registration.options.queueName, env).toLowerCase();
      const queue = queueClientFor(connection, queueName, env);
      const poison = queueClientFor(connection, `${queueName}-poison`, env);
      return new QueueListener(registration, queue, poison, host.queues, log);
    }
    case 'timer':
      return new TimerScheduler(registration, resolveAppSettings(registration.options.schedule, env), clock, log);
  }
}

export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  const print = options.log ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const log: LogSink = (line, finished) => {
    print(line);
    if (finished) options.onInvocation?.(finished);
  };
  const appRoot = options.appRoot ?? PROJECT_ROOT;
  Object.assign(process.env, options.settings ?? {});
  const env = process.env;
  const settings = loadHostSettings(appRoot, options.hostJson);
  const functions = options.functions ?? loadApp(appRoot, runningFromSources);
  const hookData: Record<string, unknown> = {};
  await runAppStartHooks(functions, hookData);

  const runners = new Map<string, Runner>();
  for (const registration of functions.registrations) {
    try {
      runners.set(
        registration.name.toLowerCase(),
        bind(registration, env, settings, options.clock ?? systemClock, log),
      );
    } catch (error) {
      log(hostLine(`[Error] The '${registration.name}' function is in error: ${(error as Error).message}`));
    }
  }
  const routes = [...runners.values()].flatMap((runner) => (runner.route ? [runner.route] : []));

  /** Runs started through the admin API, awaited on stop as the host drains invocations. */
  const inFlight = new Set<Promise<void>>();
  const runFunction = (name: string, input?: string): Promise<void> => {
    const runner = runners.get(name.toLowerCase());
    if (!runner) return Promise.reject(new Error(`No function named "${name}" is running (unknown or in error)`));
    const run = runner.run(input);
    inFlight.add(run);
    void run.catch(() => undefined).finally(() => inFlight.delete(run));
    return run;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!isLoopbackHost(req.headers.host)) {
      const message = 'the local host answers only requests addressed to localhost, 127.0.0.1 or [::1]';
      return writeHandlerResult(validationProblem([{ field: 'Host', message }]), res);
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const segments = pathSegments(req.url ?? '/');
    if (segments[0]?.toLowerCase() === 'admin' && segments[1]?.toLowerCase() === 'functions') {
      return handleAdmin(req, res, method, segments.slice(2));
    }
    const prefix = settings.routePrefix ? settings.routePrefix.split('/') : [];
    const underPrefix = prefix.every((p, i) => segments[i]?.toLowerCase() === p.toLowerCase());
    const found = underPrefix ? findRoute(routes, segments.slice(prefix.length), method) : undefined;
    if (!found) return void res.writeHead(404).end();
    const body = await readBody(req);
    const { registration } = found.route;
    const reason = 'This function was programmatically called via the host APIs.';
    let result: unknown;
    try {
      result = await invoke({ functionName: registration.name, reason, triggerType: 'httpTrigger', log }, (context) =>
        registration.options.handler(toHttpRequest(req, body, found.params), context),
      );
    } catch {
      return void res.writeHead(500).end(); // logged by invoke(); no stack trace leaves the host
    }
    await writeHandlerResult(result, res);
  };

  /** The URL of an HTTP function, for the list and the console. */
  const urlOf = (route: HttpRoute): string =>
    `${baseUrl}/${[settings.routePrefix, route.template].filter(Boolean).join('/')}`;

  const handleAdmin = async (
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    rest: string[],
  ): Promise<void> => {
    if (rest.length === 0 && method === 'GET') {
      const list = functions.registrations.map(({ name }) => {
        const runner = runners.get(name.toLowerCase());
        const url = runner?.route ? { invoke_url_template: urlOf(runner.route) } : {};
        return {
          name,
          language: 'node',
          isDisabled: false,
          ...url,
          config: { bindings: runner ? [runner.binding] : [] },
        };
      });
      return writeHandlerResult({ jsonBody: list }, res);
    }
    if (rest.length !== 1 || method !== 'POST') return void res.writeHead(404).end();
    const admin = readAdminInput(req.headers['content-type'], await readBody(req));
    if (admin.kind === 'refused') return void res.writeHead(admin.status).end();
    if (!runners.has(rest[0].toLowerCase())) return void res.writeHead(404).end();
    // As the host: accepted at once, the invocation runs in the background (its outcome is in the log).
    runFunction(rest[0], admin.input).catch(() => undefined);
    res.writeHead(202).end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(hostLine(`[Error] HTTP ${req.method} ${req.url}: ${(error as Error).message}`));
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, options.hostname ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://localhost:${port}`;
  const stopAll = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.all([...[...runners.values()].map((runner) => runner.stop()), closed]);
  };
  try {
    for (const runner of runners.values()) await runner.start();
  } catch (error) {
    await stopAll();
    throw error;
  }

  log(hostLine('Functions:'));
  for (const { name } of functions.registrations) {
    const runner = runners.get(name.toLowerCase());
    const { type, ...binding } = runner?.binding ?? { type: 'in error (see above)' };
    const line = runner?.route
      ? `[${runner.route.methods.join(',') || 'all'}] ${urlOf(runner.route)}`
      : `${type} ${JSON.stringify(binding)}`;
    log(hostLine(`    ${name}: ${line}`));
  }
  log(hostLine(`Host started: ${baseUrl} (admin: ${baseUrl}/admin/functions)`));

  let stopping: Promise<void> | undefined;
  return {
    url: baseUrl,
    port,
    registrations: functions.registrations,
    runFunction,
    stop() {
      stopping ??= (async () => {
        await stopAll();
        await Promise.allSettled([...inFlight]);
        await runAppTerminateHooks(functions, hookData, log);
      })();
      return stopping;
    },
  };
}
