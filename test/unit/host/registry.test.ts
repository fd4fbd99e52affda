import { app } from '@azure/functions';
import { appRegistry, FunctionRegistry, isCaptureInstalled } from '../../../dev/host/registry';
// A real app module, imported the ordinary way: it registers through the capture the jest setup file installed.
import '../../../functions/health';

describe('registration capture', () => {
  it('is installed by the jest setup file, so app modules register into the local host registry', () => {
    expect(isCaptureInstalled()).toBe(true);
    const health = appRegistry.find('HEALTH');
    expect(health).toMatchObject({ kind: 'http', name: 'health', options: { methods: ['GET'], route: 'health' } });
  });

  it('records every kind of registration made through app, including the method shorthands', () => {
    const handler = (): undefined => undefined;
    app.deleteRequest('captureDelete', () => ({ status: 204 }));
    app.storageQueue('captureQueue', { queueName: 'q', connection: 'AzureWebJobsStorage', handler });
    app.timer('captureTimer', { schedule: '0 * * * * *', handler });
    app.serviceBusQueue('captureBus', { queueName: 'q', connection: 'X', handler });
    app.setup({ enableHttpStream: false });
    expect(appRegistry.find('captureDelete')).toMatchObject({ kind: 'http', options: { methods: ['DELETE'] } });
    expect(appRegistry.find('captureQueue')).toMatchObject({ kind: 'storageQueue', options: { queueName: 'q' } });
    expect(appRegistry.find('captureTimer')).toMatchObject({ kind: 'timer', options: { schedule: '0 * * * * *' } });
    expect(appRegistry.find('captureBus')).toEqual({
      kind: 'unsupported',
      name: 'captureBus',
      trigger: 'serviceBusQueue',
    });
    expect(appRegistry.setupOptions).toContainEqual({ enableHttpStream: false });
  });

  it('refuses two functions with the same name, like the host', () => {
    const functions = new FunctionRegistry();
    functions.get('dup', () => ({}));
    expect(() => functions.post('DUP', () => ({}))).toThrow(/already registered/);
  });
});
