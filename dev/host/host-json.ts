import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The parts of host.json the local host honours, in milliseconds / counts, after defaults. */
export interface HostSettings {
  routePrefix: string;
  queues: {
    batchSize: number;
    maxDequeueCount: number;
    visibilityTimeoutMs: number;
    maxPollingIntervalMs: number;
    messageEncoding: 'base64' | 'none';
  };
}

/** host.json fragments a caller (tests) may override; same shape and units as host.json itself. */
export interface HostJsonOverrides {
  extensions?: {
    http?: { routePrefix?: string };
    queues?: Partial<Record<'batchSize' | 'maxDequeueCount', number>> &
      Partial<Record<'visibilityTimeout' | 'maxPollingInterval', string>> & { messageEncoding?: 'base64' | 'none' };
  };
}

type Json = Record<string, unknown>;

/** Reads host.json (if present) and applies overrides, with the Functions host's documented defaults. */
export function loadHostSettings(appRoot: string, overrides: HostJsonOverrides = {}): HostSettings {
  let file: Json = {};
  try {
    file = JSON.parse(readFileSync(path.join(appRoot, 'host.json'), 'utf8')) as Json;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const extensions = (file.extensions ?? {}) as Json;
  const http = { ...((extensions.http ?? {}) as Json), ...(overrides.extensions?.http ?? {}) };
  const queues = { ...((extensions.queues ?? {}) as Json), ...(overrides.extensions?.queues ?? {}) };
  const routePrefix = typeof http.routePrefix === 'string' ? http.routePrefix.replace(/^\/+|\/+$/g, '') : 'api';
  const batchSize = numberOr(queues.batchSize, 16);
  if (batchSize < 1 || batchSize > 32) throw new Error(`host.json extensions.queues.batchSize must be 1..32`);
  return {
    routePrefix,
    queues: {
      batchSize,
      maxDequeueCount: numberOr(queues.maxDequeueCount, 5),
      visibilityTimeoutMs: timeSpanMs(queues.visibilityTimeout, 0),
      maxPollingIntervalMs: timeSpanMs(queues.maxPollingInterval, 60_000),
      messageEncoding: queues.messageEncoding === 'none' ? 'none' : 'base64',
    },
  };
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** .NET TimeSpan text as host.json uses it: `[d.]hh:mm:ss[.fff]`. */
export function timeSpanMs(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const match =
    typeof value === 'string' ? /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(value) : null;
  if (!match) throw new Error(`host.json: ${JSON.stringify(value)} is not a TimeSpan (hh:mm:ss)`);
  const [, days, hours, minutes, seconds, fraction] = match;
  const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  return (((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000 + ms;
}
