/**
 * Runs in a fresh Node process: loads the function app's modules the way the Functions worker does (every file of
 * package.json `main`, or one bundle), then builds the services as the first invocation does (`getServices()`:
 * config, storage clients, secrets, Partner Center client, and Application Insights when its connection string is
 * set). `@azure/functions-core`, which the host injects, resolves through NODE_PATH to a small stand-in that
 * accepts the registrations (see cold-start.ts). Timings are from process start (performance.timeOrigin).
 */
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
  const registered = (globalThis as { __benchRegistered?: number }).__benchRegistered ?? 0;
  process.send?.({ bootMs, loadMs: loadedMs - bootMs, servicesMs: readyMs - loadedMs, totalMs: readyMs, registered });
}

main();
