/**
 * Runs in a fresh Node process: loads the function app's entry the way the Functions worker does (the tsc output's
 * `dist/functions/index.js`, or the deployment package's bundle), then builds the services as the first invocation
 * does (`getServices()`: config, storage clients, secrets, Partner Center client, and Application Insights when its
 * connection string is set). `@azure/functions-core`, which the worker injects, is the preloaded stand-in
 * (functions-core-stand-in.ts) that records the registrations. Timings are from process start
 * (performance.timeOrigin).
 */
import type { FunctionsCoreState } from './functions-core-stand-in';

interface Services {
  getServices(): unknown;
}

function main(): void {
  const [servicesModule, ...files] = process.argv.slice(2);
  const bootMs = performance.now();
  for (const file of files) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(file);
  }
  const loadedMs = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const services = require(servicesModule) as Services;
  services.getServices();
  const readyMs = performance.now();
  const registered = (globalThis as { __functionsCore?: FunctionsCoreState }).__functionsCore?.functions.length ?? 0;
  process.send?.({ bootMs, loadMs: loadedMs - bootMs, servicesMs: readyMs - loadedMs, totalMs: readyMs, registered });
}

main();
