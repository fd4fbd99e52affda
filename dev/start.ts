import path from 'node:path';
import { startAzurite } from './azurite';
import { startLocalHost } from './host';
import { appSettingsFor, startSimulator } from './simulator';
import { loadLocalSettings } from './host/settings';
import { isPortTaken } from './free-port';
import { isLoopbackHostname } from '../shared/net/urls';
import { Tables } from '../shared/storage/tables';
import { LOCAL_SIGNING_SECRET_FILE, localSigningSecret } from './signing';

/**
 * `npm start`: the whole local stack on embedded defaults. Each part of the stack is one entry in `parts`, started in
 * order and stopped in reverse. To add a part (the Partner Center simulator, say), add an entry that declares its
 * ports and how to start it; port checks, the banner, Ctrl-C and child-death handling come with the list.
 */

const PROJECT_ROOT = path.resolve(__dirname, '../..');
const AZURITE_PORTS = { blob: 10000, queue: 10001, table: 10002 };
/** How often to check that a child process is still alive (startAzurite exposes a pid, not an exit event). */
const LIVENESS_INTERVAL_MS = 1000;

interface RunningPart {
  /** Lines for the banner: where the part listens. */
  banner: string[];
  stop(): Promise<void>;
  /** Resolves if the part dies on its own (a child process exiting); never resolves otherwise. */
  died: Promise<string>;
  /** The child process, if the part is one: killed outright on a second Ctrl-C so that none is left behind. */
  pid?: number;
}

interface Part {
  name: string;
  /** Ports it will listen on, with what each is for (checked before anything starts). */
  ports: { port: number; purpose: string }[];
  start(): Promise<RunningPart>;
}

const never = new Promise<string>(() => undefined);

function watchPid(pid: number, name: string, signal: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      try {
        process.kill(pid, 0);
      } catch {
        clearInterval(timer);
        if (!signal.aborted) resolve(`${name} (pid ${pid}) exited`);
      }
    }, LIVENESS_INTERVAL_MS);
    timer.unref();
    signal.addEventListener('abort', () => clearInterval(timer));
  });
}

function parsePort(argv: string[], env: NodeJS.ProcessEnv): number {
  const index = argv.findIndex((a) => a === '--port' || a.startsWith('--port='));
  const text = index < 0 ? env.PORT : argv[index].includes('=') ? argv[index].split('=')[1] : argv[index + 1];
  if (text === undefined || text === '') return 7071;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port / PORT "${text}" is not a port`);
  return port;
}

/**
 * The port to run the Partner Center simulator on: when PARTNER_CENTER_API_URL is unset (8090) or names a loopback
 * address (the local simulator); undefined when it points at a real Partner Center.
 */
function localSimulatorPort(apiUrl: string | undefined): number | undefined {
  if (!apiUrl) return 8090;
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return undefined; // the config module names the bad setting when the host loads the app
  }
  if (!isLoopbackHostname(url.hostname)) return undefined;
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
}

/** True when AzureWebJobsStorage means the local emulator (then this command starts it). */
function usesLocalEmulator(connection: string | undefined): boolean {
  return connection === undefined || /^\s*UseDevelopmentStorage=true\s*(;|$)/i.test(connection);
}

function buildParts(settings: Record<string, string>, hostPort: number, stopping: AbortSignal): Part[] {
  const parts: Part[] = [];
  if (usesLocalEmulator(settings.AzureWebJobsStorage)) {
    parts.push({
      name: 'Azurite',
      ports: [
        { port: AZURITE_PORTS.blob, purpose: 'Azurite Blob service' },
        { port: AZURITE_PORTS.queue, purpose: 'Azurite Queue service' },
        { port: AZURITE_PORTS.table, purpose: 'Azurite Table service' },
      ],
      async start() {
        const location = path.join(PROJECT_ROOT, '.azurite');
        const azurite = await startAzurite({
          location,
          blobPort: AZURITE_PORTS.blob,
          queuePort: AZURITE_PORTS.queue,
          tablePort: AZURITE_PORTS.table,
        });
        // The app's tables, as `azd up` creates them in Azure (the health check creates nothing and expects them).
        // A failure here (a malformed TABLE_NAME_PREFIX, say) is only reported: the host then names the setting.
        await new Tables({
          storage: { kind: 'connectionString', connectionString: azurite.connectionString },
          tableNamePrefix: process.env.TABLE_NAME_PREFIX ?? settings.TABLE_NAME_PREFIX ?? '',
        })
          .createAll()
          .catch((error: unknown) =>
            process.stderr.write(`Creating the app's tables failed: ${(error as Error).message}\n`),
          );
        return {
          banner: [
            `Azurite         blob http://127.0.0.1:${azurite.blobPort}  queue http://127.0.0.1:${azurite.queuePort}  ` +
              `table http://127.0.0.1:${azurite.tablePort}  (data in ${path.relative(process.cwd(), location) || location}/)`,
          ],
          stop: () => azurite.stop(),
          died: watchPid(azurite.pid, 'Azurite', stopping),
          pid: azurite.pid,
        };
      },
    });
  }
  const simulatorPort = localSimulatorPort(settings.PARTNER_CENTER_API_URL);
  if (simulatorPort !== undefined) {
    parts.push({
      name: 'Partner Center simulator',
      ports: [
        { port: simulatorPort, purpose: 'the Partner Center simulator (token endpoint and product-upgrade API)' },
      ],
      async start() {
        const simulator = await startSimulator({
          port: simulatorPort,
          // Upgrades the app tracks in .azurite/ must still exist after a restart, so the simulator keeps its state too.
          stateFile: path.join(PROJECT_ROOT, '.azurite', 'partner-center-simulator.json'),
        });
        // Point the app at it: both URLs, the partner app it accepts, and the secrets it generated for this run
        // (read by the environment secret store; nothing is written to disk). A variable set in the environment
        // still wins, even an empty one, as it does over the settings file.
        const simulatorSettings = appSettingsFor(simulator);
        if (settings.KEY_VAULT_URL) {
          // Secrets come from the vault: only the addresses and ids point at the simulator.
          delete simulatorSettings.PARTNER_CENTER_CLIENT_SECRET;
          delete simulatorSettings.PARTNER_CENTER_REFRESH_TOKEN;
        }
        for (const [name, value] of Object.entries(simulatorSettings)) {
          if (process.env[name] === undefined) settings[name] = value;
        }
        return {
          banner: [
            `Partner Center  ${simulator.url}  simulator, ${simulator.scenario.customers.length} customers ` +
              `(admin: GET ${simulator.url}/_sim/upgrades, GET ${simulator.url}/_sim/counters)`,
          ],
          stop: () => simulator.close(),
          died: never,
        };
      },
    });
  }
  parts.push({
    name: 'Functions host',
    ports: [{ port: hostPort, purpose: 'the local Functions host (HTTP functions and admin API)' }],
    async start() {
      const host = await startLocalHost({ port: hostPort, settings, appRoot: PROJECT_ROOT });
      return {
        banner: [
          `Functions host  ${host.url}/api/  (admin: POST ${host.url}/admin/functions/{name}, list: GET ${host.url}/admin/functions)`,
        ],
        stop: () => host.stop(),
        died: never,
      };
    },
  });
  return parts;
}

/**
 * How the app's webhooks are signed here; gives the app `npm start`'s own secret when none is configured (the
 * settings files hold none), so the README's signed curl session works on a fresh clone. Returns the banner lines.
 */
function webhookSigning(settings: Record<string, string>, hostPort: number): string[] {
  const example = `npm run -s sign -- '{"customerId":"…"}' | curl -K - localhost:${hostPort}/api/eligibility`;
  if (settings.WEBHOOK_SIGNATURES?.trim().toLowerCase() === 'disabled') {
    return [
      '!!! Webhooks    WEBHOOK SIGNATURES ARE DISABLED (WEBHOOK_SIGNATURES=disabled): the app takes UNSIGNED webhooks.',
      '!!!             A local opt-out only: the app refuses to start with it in Azure.',
    ];
  }
  if (settings.KEY_VAULT_URL?.trim()) return ['Webhooks        signed with WEBHOOK_SIGNING_SECRET from Key Vault'];
  if (settings.WEBHOOK_SIGNING_SECRET?.trim()) {
    return [`Webhooks        signed with the configured WEBHOOK_SIGNING_SECRET; sign one: ${example}`];
  }
  if (process.env.WEBHOOK_SIGNING_SECRET !== undefined) {
    return ['Webhooks        WEBHOOK_SIGNING_SECRET is empty in the environment: every POST webhook answers 503'];
  }
  const { secret, created } = localSigningSecret(PROJECT_ROOT);
  settings.WEBHOOK_SIGNING_SECRET = secret;
  return [
    `Webhooks        signed (Standard Webhooks) with WEBHOOK_SIGNING_SECRET=${secret}`,
    `                (${created ? 'made now, ' : ''}kept in ${LOCAL_SIGNING_SECRET_FILE}); sign one: ${example}`,
  ];
}

async function main(): Promise<number> {
  const local = loadLocalSettings(PROJECT_ROOT);
  const hostPort = parsePort(process.argv.slice(2), process.env);
  const stopping = new AbortController();
  const parts = buildParts(local.values, hostPort, stopping.signal);

  for (const part of parts) {
    for (const { port, purpose } of part.ports) {
      if (await isPortTaken(port)) {
        process.stderr.write(
          `Port ${port} is already in use; it is meant for ${purpose}. Stop whatever listens there ` +
            `(e.g. an earlier npm start or Azurite)${part.name === 'Functions host' ? ', or choose another with --port' : ''}.\n`,
        );
        return 1;
      }
    }
  }

  const signing = webhookSigning(local.values, hostPort);
  const running: { part: Part; instance: RunningPart }[] = [];
  let stopAll: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopAll ??= (async () => {
      stopping.abort();
      for (const { part, instance } of [...running].reverse()) {
        try {
          await instance.stop();
        } catch (error) {
          process.stderr.write(`Stopping ${part.name} failed: ${(error as Error).message}\n`);
        }
      }
    })();
    return stopAll;
  };

  const signalled = new Promise<number>((resolve) => {
    let count = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      count++;
      if (count > 1) {
        // A second Ctrl-C: do not wait any longer, but leave no child behind.
        for (const { instance } of running) {
          try {
            if (instance.pid) process.kill(instance.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        process.exit(130);
      }
      process.stdout.write(`\n${signal} received: stopping the local stack...\n`);
      void shutdown().then(() => resolve(0));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  process.stdout.write(`Settings from ${local.source} (environment variables override them)\n`);
  try {
    for (const part of parts) {
      if (stopping.signal.aborted) break;
      const instance = await part.start();
      running.push({ part, instance });
      // Ctrl-C came while this part was starting: the shutdown already running did not see it, so stop it here.
      if (stopping.signal.aborted) await instance.stop();
    }
  } catch (error) {
    if (stopping.signal.aborted) return signalled; // a child stopped by the same Ctrl-C while starting
    process.stderr.write(`Could not start the local stack: ${(error as Error).message}\n`);
    await shutdown();
    return 1;
  }
  if (stopping.signal.aborted) return signalled;

  const seconds = (performance.now() / 1000).toFixed(1); // since this process started
  process.stdout.write(
    `\nLocal stack is up in ${seconds} s:\n` +
      [...running.flatMap(({ instance }) => instance.banner), ...signing].map((line) => `  ${line}\n`).join('') +
      (usesLocalEmulator(local.values.AzureWebJobsStorage)
        ? ''
        : '  Azurite         not started: AzureWebJobsStorage points to other storage\n') +
      'Press Ctrl-C to stop.\n\n',
  );

  const died = Promise.race(running.map(({ instance }) => instance.died)).then(async (reason) => {
    if (stopping.signal.aborted) return 0;
    process.stderr.write(`${reason}: stopping the rest of the local stack.\n`);
    await shutdown();
    return 1;
  });
  return Promise.race([signalled, died]);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  },
);
