import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { freePorts } from './free-port';

/** Well-known Azurite development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Folder for persistent data; omitted: in memory. */
  location?: string;
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
  /** Forward Azurite's own output to this process's stdout. */
  verbose?: boolean;
}

export interface RunningAzurite {
  connectionString: string;
  blobPort: number;
  queuePort: number;
  tablePort: number;
  pid: number;
  stop(): Promise<void>;
}

export function azuriteConnectionString(blobPort: number, queuePort: number, tablePort: number): string {
  const host = 'http://127.0.0.1';
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=${host}:${blobPort}/${AZURITE_ACCOUNT};QueueEndpoint=${host}:${queuePort}/${AZURITE_ACCOUNT};` +
    `TableEndpoint=${host}:${tablePort}/${AZURITE_ACCOUNT};`
  );
}

/**
 * Starts Azurite (npm package, run by this Node) and resolves once all three services listen.
 * Ports default to free ones chosen here (Azurite reports port 0 back as 0, so we pick them ourselves).
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const [freeBlob, freeQueue, freeTable] = await freePorts(3);
  const blobPort = options.blobPort ?? freeBlob;
  const queuePort = options.queuePort ?? freeQueue;
  const tablePort = options.tablePort ?? freeTable;
  const entry = require.resolve('azurite/dist/src/azurite.js');
  const args = [
    entry,
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--loose',
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(blobPort),
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    String(queuePort),
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(tablePort),
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push(
      '--location',
      path.resolve(options.location),
      '--debug',
      path.join(path.resolve(options.location), 'debug.log'),
    );
  } else {
    args.push('--inMemoryPersistence');
  }
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      output += text;
      if (options.verbose) process.stdout.write(text);
      if ((output.match(/successfully listening/g) ?? []).length >= 3) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code}:\n${output}`));
    });
  });
  await ready;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    connectionString: azuriteConnectionString(blobPort, queuePort, tablePort),
    blobPort,
    queuePort,
    tablePort,
    pid: child.pid ?? 0,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timeout = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
