import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildPackageInEmptyFolder,
  runInPackage,
  VALID_SETTINGS,
  type BuiltPackage,
} from '../package/deployment-package';
import { startIngestion, type Ingestion } from './ingestion';

/**
 * What the Node worker does on WorkerTerminate (scale-in, a recycle): it runs the app's appTerminate hooks, then
 * `process.exit(0)`. Application Insights batches what it sends, so whatever is still queued then is lost unless a
 * hook sends it. These run the deployment package as Azure does, in a fresh process, against a loopback ingestion
 * endpoint.
 */
function eventsThenTerminate(
  runId: string,
  terminate: 'run the appTerminate hooks, then exit' | 'exit at once',
): string {
  const exit =
    terminate === 'exit at once'
      ? 'process.exit(0);'
      : "globalThis.__functionsCore.runHooks('appTerminate').then(() => process.exit(0));";
  return `
const main = require('node:path').resolve(require('./package.json').main);
const { getServices } = require(main);
const { telemetry } = getServices();
for (let i = 0; i < 3; i++) telemetry.event('PollRunCompleted', { runId: ${JSON.stringify(runId)} }, { due: i });
telemetry.exception(new Error('the last poll run of ${runId} failed'), { runId: ${JSON.stringify(runId)} });
console.log(JSON.stringify({ queued: 4 }));
${exit}
`;
}

describe('telemetry sent just before the worker terminates', () => {
  let pkg: BuiltPackage;
  let ingestion: Ingestion;
  let settings: Record<string, string>;

  beforeAll(async () => {
    [pkg, ingestion] = await Promise.all([buildPackageInEmptyFolder(), startIngestion()]);
    const ca = path.join(path.dirname(pkg.dir), 'ingestion-ca.pem');
    writeFileSync(ca, ingestion.cert);
    settings = {
      ...VALID_SETTINGS,
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=${ingestion.url}`,
      // The process trusts the ingestion endpoint's own certificate, and nothing else is relaxed.
      NODE_EXTRA_CA_CERTS: ca,
      // Statsbeat reports to a Microsoft endpoint, not to the resource: off, so the test stays on loopback.
      APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true',
    };
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => ingestion?.server.close(resolve));
    pkg?.remove();
  });

  const received = (runId: string) =>
    ingestion.envelopes
      .filter((e) => (e.data.baseData.properties as Record<string, string> | undefined)?.runId === runId)
      .map((e) => `${e.data.baseType} ${(e.data.baseData.name as string | undefined) ?? ''}`.trim())
      .sort();

  it('reaches ingestion: the appTerminate hook flushes it before the process exits', async () => {
    await runInPackage(pkg, eventsThenTerminate('run-hooked', 'run the appTerminate hooks, then exit'), settings);
    // The child has exited: whatever it sent was answered, so it is recorded here already.
    expect(received('run-hooked')).toEqual([
      'EventData PollRunCompleted',
      'EventData PollRunCompleted',
      'EventData PollRunCompleted',
      'ExceptionData',
    ]);
  });

  it('is lost when the process exits without running the hooks (why the hook exists)', async () => {
    await runInPackage(pkg, eventsThenTerminate('run-unhooked', 'exit at once'), settings);
    expect(received('run-unhooked')).toEqual([]);
  });
});
