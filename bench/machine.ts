import { fork } from 'node:child_process';
import os from 'node:os';

export interface MachineInfo {
  hostname: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  node: string;
  /** 1, 5 and 15-minute load averages when the run started (the machine is shared: read figures against it). */
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
  startedAt: string;
  finishedAt?: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((os.freemem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    startedAt: new Date().toISOString(),
  };
}

export function loadAverage(): number[] {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}

export interface MemoryPeak {
  peakRssMiB: number;
  peakHeapUsedMiB: number;
  /** RSS when sampling started. */
  baselineRssMiB: number;
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/**
 * This process's memory high-water from now on: a GC first (when `--expose-gc`), then RSS and heap used sampled every
 * 25 ms until `stop()`.
 */
export function sampleMemory(): { stop(): MemoryPeak } {
  global.gc?.();
  const baseline = process.memoryUsage();
  let peakRss = baseline.rss;
  let peakHeap = baseline.heapUsed;
  const sample = () => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  };
  const sampler = setInterval(sample, 25);
  return {
    stop() {
      clearInterval(sampler);
      sample();
      return { peakRssMiB: mib(peakRss), peakHeapUsedMiB: mib(peakHeap), baselineRssMiB: mib(baseline.rss) };
    },
  };
}

/**
 * Runs `module` with `args` in a process of its own (with `--expose-gc`, so that `sampleMemory` there starts from a
 * collected heap), its environment this one's plus `env`. Resolves with the last message it sent over IPC once it
 * exits 0; otherwise rejects, naming `what` and the end of its stderr.
 */
export function forkForResult<T>(
  what: string,
  module: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(module, args, {
      env: { ...process.env, ...env },
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let result: T | undefined;
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
    child.on('message', (message) => (result = message as T));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`${what} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}
