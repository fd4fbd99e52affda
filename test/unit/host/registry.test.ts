import { app, type AppStartContext } from '@azure/functions';
import { APP_TERMINATE_GRACE_MS, runAppStartHooks, runAppTerminateHooks } from '../../../dev/host/hooks';
import { appRegistry, FunctionRegistry, isCaptureInstalled } from '../../../dev/host/registry';
// A real app module, imported the ordinary way: it registers through the capture the jest setup file installed.
import '../../../functions/health';

describe('registration capture', () => {
  it('is installed by the jest setup file, so app modules register into the local host registry', () => {
    expect(isCaptureInstalled()).toBe(true);
    const health = appRegistry.find('HEALTH');
    expect(health).toMatchObject({ kind: 'http', name: 'health', options: { methods: ['GET'], route: 'health' } });
  });

  it('records the HTTP, queue and timer registrations, setup and the app hooks made through app', () => {
    const handler = (): undefined => undefined;
    app.http('captureHttp', { methods: ['DELETE'], route: 'things/{id}', handler: () => ({ status: 204 }) });
    app.storageQueue('captureQueue', { queueName: 'q', connection: 'AzureWebJobsStorage', handler });
    app.timer('captureTimer', { schedule: '0 * * * * *', handler });
    app.deleteRequest('captureDelete', () => ({ status: 204 }));
    app.post('capturePost', { route: 'things', handler: () => ({ status: 201 }) });
    app.setup({ enableHttpStream: false });
    const onStart = (): void => undefined;
    const onTerminate = (): void => undefined;
    app.hook.appStart(onStart);
    const registered = app.hook.appTerminate(onTerminate);
    expect(appRegistry.find('captureHttp')).toMatchObject({ kind: 'http', options: { methods: ['DELETE'] } });
    expect(appRegistry.find('captureDelete')).toMatchObject({ kind: 'http', options: { methods: ['DELETE'] } });
    expect(appRegistry.find('capturePost')).toMatchObject({
      kind: 'http',
      options: { methods: ['POST'], route: 'things' },
    });
    expect(appRegistry.find('captureQueue')).toMatchObject({ kind: 'storageQueue', options: { queueName: 'q' } });
    expect(appRegistry.find('captureTimer')).toMatchObject({ kind: 'timer', options: { schedule: '0 * * * * *' } });
    expect(appRegistry.setupOptions).toContainEqual({ enableHttpStream: false });
    expect(appRegistry.appStartHooks).toContain(onStart);
    expect(appRegistry.appTerminateHooks).toContain(onTerminate);
    registered.dispose();
    expect(appRegistry.appTerminateHooks).not.toContain(onTerminate);
  });

  it('refuses, loudly, every trigger and hook the local host does not run (it would otherwise vanish)', () => {
    const handler = (): undefined => undefined;
    expect(() => app.serviceBusQueue('captureBus', { queueName: 'q', connection: 'X', handler })).toThrow(
      'app.serviceBusQueue(): the local host runs only HTTP, storage queue and timer functions and app hooks',
    );
    expect(() => app.storageBlob('captureBlob', { path: 'c/{name}', connection: 'X', handler })).toThrow(
      /app\.storageBlob\(\)/,
    );
    expect(() => app.hook.postInvocation(() => undefined)).toThrow(/app\.hook\.postInvocation\(\)/);
    expect(appRegistry.find('captureBus')).toBeUndefined();
    expect(appRegistry.find('captureBlob')).toBeUndefined();
  });

  it('refuses two functions with the same name, like the worker', () => {
    const functions = new FunctionRegistry();
    functions.http('dup', { handler: () => ({}) });
    expect(() => functions.http('DUP', { handler: () => ({}) })).toThrow(/already registered/);
  });
});

describe('app hooks', () => {
  it('runs appStart hooks in order with one hookData, which appTerminate hooks share', async () => {
    const functions = new FunctionRegistry();
    const seen: string[] = [];
    functions.hook.appStart((context: AppStartContext) => {
      seen.push('start 1');
      context.hookData.started = true;
    });
    functions.hook.appStart(async () => {
      await Promise.resolve();
      seen.push('start 2');
    });
    functions.hook.appTerminate((context) => {
      seen.push(`terminate, started=${String(context.hookData.started)}`);
    });
    const hookData = {};
    await runAppStartHooks(functions, hookData);
    await runAppTerminateHooks(functions, hookData, () => undefined);
    expect(seen).toEqual(['start 1', 'start 2', 'terminate, started=true']);
  });

  it('fails the start when an appStart hook throws, naming it', async () => {
    const functions = new FunctionRegistry();
    functions.hook.appStart(() => {
      throw new Error('telemetry would not start');
    });
    await expect(runAppStartHooks(functions, {})).rejects.toThrow('An appStart hook failed: telemetry would not start');
  });

  it('gives appTerminate hooks the grace period and no more, logging a failure or an overrun', async () => {
    expect(APP_TERMINATE_GRACE_MS).toBe(5_000); // the host's WorkerTerminate grace period
    const logs: string[] = [];
    const failing = new FunctionRegistry();
    failing.hook.appTerminate(() => Promise.reject(new Error('flush failed')));
    await runAppTerminateHooks(failing, {}, (line) => logs.push(line));
    expect(logs.at(-1)).toMatch(/\[Error\] An appTerminate hook failed: flush failed/);
    const hanging = new FunctionRegistry();
    hanging.hook.appTerminate(() => new Promise<void>(() => undefined));
    await runAppTerminateHooks(hanging, {}, (line) => logs.push(line), 0);
    expect(logs.at(-1)).toMatch(/\[Warning\] appTerminate hooks did not finish within the 0 ms grace period/);
  });
});
