import {
  app,
  Disposable,
  type AppStartHandler,
  type AppTerminateHandler,
  type HttpFunctionOptions,
  type HttpHandler,
  type HttpMethod,
  type HttpMethodFunctionOptions,
  type SetupOptions,
  type StorageQueueFunctionOptions,
  type TimerFunctionOptions,
} from '@azure/functions';

/**
 * Records what the app registers through `app.http` / `app.storageQueue` / `app.timer`, `app.setup` and
 * `app.hook.appStart` / `app.hook.appTerminate`. Outside the Functions host, @azure/functions runs in "test mode" and
 * drops every registration, so the local host replaces those methods on the library's `app` before any function
 * module is imported: the very calls the Functions worker sees are the only list of functions there is. Every other
 * registering method of `app` throws, so that a trigger the local host cannot run fails the load instead of vanishing.
 * (The `app.get` / `app.post` / ... shorthands are HTTP functions and are recorded as such.)
 */

export type Registration =
  | { kind: 'http'; name: string; options: HttpFunctionOptions }
  | { kind: 'storageQueue'; name: string; options: StorageQueueFunctionOptions }
  | { kind: 'timer'; name: string; options: TimerFunctionOptions };
export type HttpRegistration = Extract<Registration, { kind: 'http' }>;
export type QueueRegistration = Extract<Registration, { kind: 'storageQueue' }>;
export type TimerRegistration = Extract<Registration, { kind: 'timer' }>;

/** A set of registrations and app hooks, registered with the same methods as the library's `app`. */
export class FunctionRegistry {
  readonly registrations: Registration[] = [];
  readonly setupOptions: SetupOptions[] = [];
  readonly appStartHooks: AppStartHandler[] = [];
  readonly appTerminateHooks: AppTerminateHandler[] = [];
  readonly hook = {
    appStart: (handler: AppStartHandler): Disposable => hookInto(this.appStartHooks, handler),
    appTerminate: (handler: AppTerminateHandler): Disposable => hookInto(this.appTerminateHooks, handler),
  };

  http(name: string, options: HttpFunctionOptions): void {
    this.add({ kind: 'http', name, options });
  }
  storageQueue(name: string, options: StorageQueueFunctionOptions): void {
    this.add({ kind: 'storageQueue', name, options });
  }
  timer(name: string, options: TimerFunctionOptions): void {
    this.add({ kind: 'timer', name, options });
  }
  setup(options: SetupOptions): void {
    this.setupOptions.push(options);
  }

  find(name: string): Registration | undefined {
    const lower = name.toLowerCase();
    return this.registrations.find((r) => r.name.toLowerCase() === lower);
  }

  private add(registration: Registration): void {
    // The worker refuses a second function of the same name (the host compares names case-insensitively).
    if (this.find(registration.name)) throw new Error(`A function named "${registration.name}" is already registered`);
    this.registrations.push(registration);
  }
}

function hookInto<T>(hooks: T[], handler: T): Disposable {
  hooks.push(handler);
  return new Disposable(() => {
    const index = hooks.indexOf(handler);
    if (index >= 0) hooks.splice(index, 1);
  });
}

/** What the app's modules registered through the library's `app` (filled once the capture is installed). */
export const appRegistry = new FunctionRegistry();

/** `app.get(name, handler | options)` and the like: an HTTP function taking that one method, as the library makes it. */
const httpMethod =
  (method: HttpMethod) =>
  (name: string, options: HttpMethodFunctionOptions | HttpHandler): void =>
    appRegistry.http(name, { ...(typeof options === 'function' ? { handler: options } : options), methods: [method] });

const CAPTURE_MARK = Symbol.for('azure-plan-upgrades.registration-capture');
const CAPTURED: Record<string, (...args: never[]) => unknown> = {
  http: (name: string, options: HttpFunctionOptions) => appRegistry.http(name, options),
  get: httpMethod('GET'),
  put: httpMethod('PUT'),
  post: httpMethod('POST'),
  patch: httpMethod('PATCH'),
  deleteRequest: httpMethod('DELETE'),
  storageQueue: (name: string, options: StorageQueueFunctionOptions) => appRegistry.storageQueue(name, options),
  timer: (name: string, options: TimerFunctionOptions) => appRegistry.timer(name, options),
  setup: (options: SetupOptions) => appRegistry.setup(options),
  appStart: (handler: AppStartHandler) => appRegistry.hook.appStart(handler),
  appTerminate: (handler: AppTerminateHandler) => appRegistry.hook.appTerminate(handler),
};

/** True once `installRegistrationCapture` has run on this copy of @azure/functions. */
export function isCaptureInstalled(): boolean {
  return (app as unknown as Record<symbol, unknown>)[CAPTURE_MARK] === true;
}

/**
 * Replaces the registering methods of `app` (and of `app.hook`) so that they record into `appRegistry`. Idempotent.
 * Must run before the function modules are first imported (a module imported earlier registered into the void).
 */
export function installRegistrationCapture(): void {
  if (isCaptureInstalled()) return;
  const replaceAll = (target: object, prefix: string): void => {
    for (const key of Object.keys(target)) {
      if (key === 'hook') continue;
      const refuse = (): never => {
        throw new Error(
          `${prefix}${key}(): the local host runs only HTTP, storage queue and timer functions and app hooks`,
        );
      };
      // `setup` is a getter re-export in the library: defineProperty works where assignment would not.
      Object.defineProperty(target, key, {
        value: CAPTURED[key] ?? refuse,
        writable: true,
        configurable: true,
        enumerable: true,
      });
    }
  };
  replaceAll(app, 'app.');
  replaceAll(app.hook, 'app.hook.');
  (app as unknown as Record<symbol, unknown>)[CAPTURE_MARK] = true;
}
