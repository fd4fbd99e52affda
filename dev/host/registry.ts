import {
  app,
  type HttpFunctionOptions,
  type HttpHandler,
  type HttpMethodFunctionOptions,
  type SetupOptions,
  type StorageQueueFunctionOptions,
  type TimerFunctionOptions,
} from '@azure/functions';

/**
 * Records the function registrations the app makes through `app.http` / `app.storageQueue` / `app.timer`.
 * Outside the Functions host, @azure/functions runs in "test mode" and drops every registration, so the local host
 * replaces those methods on the library's `app` export before any function module is imported: the very calls the
 * Functions host sees are the only list of functions there is.
 */

export interface HttpRegistration {
  kind: 'http';
  name: string;
  options: HttpFunctionOptions;
}
export interface QueueRegistration {
  kind: 'storageQueue';
  name: string;
  options: StorageQueueFunctionOptions;
}
export interface TimerRegistration {
  kind: 'timer';
  name: string;
  options: TimerFunctionOptions;
}
/** A trigger the local host cannot run (blob, Service Bus, ...): kept so the host can say so at start. */
export interface UnsupportedRegistration {
  kind: 'unsupported';
  name: string;
  trigger: string;
}
export type Registration = HttpRegistration | QueueRegistration | TimerRegistration | UnsupportedRegistration;

type HttpMethodOptionsOrHandler = HttpMethodFunctionOptions | HttpHandler;

/** A set of registrations with the same registering methods as the library's `app`. */
export class FunctionRegistry {
  readonly registrations: Registration[] = [];
  readonly setupOptions: SetupOptions[] = [];

  http(name: string, options: HttpFunctionOptions): void {
    this.add({ kind: 'http', name, options });
  }
  get(name: string, optionsOrHandler: HttpMethodOptionsOrHandler): void {
    this.http(name, withMethod(optionsOrHandler, 'GET'));
  }
  put(name: string, optionsOrHandler: HttpMethodOptionsOrHandler): void {
    this.http(name, withMethod(optionsOrHandler, 'PUT'));
  }
  post(name: string, optionsOrHandler: HttpMethodOptionsOrHandler): void {
    this.http(name, withMethod(optionsOrHandler, 'POST'));
  }
  patch(name: string, optionsOrHandler: HttpMethodOptionsOrHandler): void {
    this.http(name, withMethod(optionsOrHandler, 'PATCH'));
  }
  deleteRequest(name: string, optionsOrHandler: HttpMethodOptionsOrHandler): void {
    this.http(name, withMethod(optionsOrHandler, 'DELETE'));
  }
  storageQueue<T = unknown>(name: string, options: StorageQueueFunctionOptions<T>): void {
    this.add({ kind: 'storageQueue', name, options: options as StorageQueueFunctionOptions });
  }
  timer(name: string, options: TimerFunctionOptions): void {
    this.add({ kind: 'timer', name, options });
  }
  setup(options: SetupOptions): void {
    this.setupOptions.push(options);
  }
  unsupported(name: string, trigger: string): void {
    this.add({ kind: 'unsupported', name, trigger });
  }

  find(name: string): Registration | undefined {
    const lower = name.toLowerCase();
    return this.registrations.find((r) => r.name.toLowerCase() === lower);
  }

  private add(registration: Registration): void {
    // The Functions host refuses duplicate names (case-insensitive) at start; fail as early here.
    if (this.find(registration.name)) throw new Error(`A function named "${registration.name}" is already registered`);
    this.registrations.push(registration);
  }
}

function withMethod(optionsOrHandler: HttpMethodOptionsOrHandler, method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE') {
  const options: HttpFunctionOptions =
    typeof optionsOrHandler === 'function' ? { handler: optionsOrHandler } : { ...optionsOrHandler };
  return { ...options, methods: [method] };
}

/** The registrations the app's modules made through the library's `app` (filled once capture is installed). */
export const appRegistry = new FunctionRegistry();

const UNSUPPORTED_TRIGGERS = [
  'storageBlob',
  'serviceBusQueue',
  'serviceBusTopic',
  'eventHub',
  'eventGrid',
  'cosmosDB',
  'connectorTrigger',
  'warmup',
  'sql',
  'mySql',
  'generic',
  'webPubSub',
  'mcpTool',
  'mcpResource',
  'mcpPrompt',
] as const;

const CAPTURE_MARK = Symbol.for('azure-plan-upgrades.registration-capture');

/** True once `installRegistrationCapture` has run on this copy of @azure/functions. */
export function isCaptureInstalled(): boolean {
  return (app as unknown as Record<symbol, unknown>)[CAPTURE_MARK] === true;
}

/**
 * Replaces the registering methods of `app` so they record into `appRegistry`. Idempotent. Must run before the
 * function modules are first imported (a module imported earlier has already registered into the void).
 */
export function installRegistrationCapture(): void {
  if (isCaptureInstalled()) return;
  const target = app as unknown as Record<string | symbol, unknown>;
  const replace = (key: string, fn: (...args: never[]) => void): void => {
    // `setup` is a getter re-export in the bundle: defineProperty works where assignment would not.
    Object.defineProperty(target, key, { value: fn, writable: true, configurable: true, enumerable: true });
  };
  replace('http', (name: string, options: HttpFunctionOptions) => appRegistry.http(name, options));
  replace('get', (name: string, o: HttpMethodOptionsOrHandler) => appRegistry.get(name, o));
  replace('put', (name: string, o: HttpMethodOptionsOrHandler) => appRegistry.put(name, o));
  replace('post', (name: string, o: HttpMethodOptionsOrHandler) => appRegistry.post(name, o));
  replace('patch', (name: string, o: HttpMethodOptionsOrHandler) => appRegistry.patch(name, o));
  replace('deleteRequest', (name: string, o: HttpMethodOptionsOrHandler) => appRegistry.deleteRequest(name, o));
  replace('storageQueue', (name: string, options: StorageQueueFunctionOptions) =>
    appRegistry.storageQueue(name, options),
  );
  replace('timer', (name: string, options: TimerFunctionOptions) => appRegistry.timer(name, options));
  replace('setup', (options: SetupOptions) => appRegistry.setup(options));
  for (const trigger of UNSUPPORTED_TRIGGERS) {
    replace(trigger, (name: string) => appRegistry.unsupported(name, trigger));
  }
  target[CAPTURE_MARK] = true;
}
