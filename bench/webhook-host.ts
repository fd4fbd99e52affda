/**
 * The local Functions host in a process of its own (the worker's place in Azure), loading the compiled app from
 * package.json `main`. Settings come from the environment; the URL goes back over IPC; a "stop" message ends it.
 */
import { startLocalHost } from '../dev/host';

async function main(): Promise<void> {
  const host = await startLocalHost({ port: 0, log: () => {} });
  process.send?.({ url: host.url });
  process.on('message', (message) => {
    if (message === 'stop') {
      void host.stop().finally(() => process.exit(0));
    }
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
