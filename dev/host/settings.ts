import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * App settings for running locally, as `func start` would see them: `local.settings.json` `Values` when the file
 * exists, else the safe defaults embedded in `local.settings.sample.json`; variables already in the environment win.
 */
export interface LocalSettings {
  values: Record<string, string>;
  /** Which file the defaults came from (for the start banner). */
  source: string;
}

function readValues(file: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as { Values?: Record<string, unknown> };
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.Values ?? {})) {
    if (value !== null && value !== undefined) values[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return values;
}

export function loadLocalSettings(appRoot: string, env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const ownFile = path.join(appRoot, 'local.settings.json');
  const sampleFile = path.join(appRoot, 'local.settings.sample.json');
  const own = readValues(ownFile);
  const source = own ? ownFile : sampleFile;
  const defaults = own ?? readValues(sampleFile);
  if (!defaults) throw new Error(`Neither ${ownFile} nor ${sampleFile} exists`);
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(defaults)) values[name] = env[name] ?? value;
  return { values, source: path.relative(process.cwd(), source) || source };
}

/**
 * Replaces every `%NAME%` in a binding property with the app setting NAME, as the host's name resolver does; a name
 * that is not set is an error in the host's words, and puts the function in error.
 */
export function resolveAppSettings(text: string, env: NodeJS.ProcessEnv): string {
  let resolved = '';
  let from = 0;
  for (let start = text.indexOf('%'); start >= 0; start = text.indexOf('%', from)) {
    const end = text.indexOf('%', start + 1);
    if (end < 0) throw new Error(`The '%' at position ${start} does not have a closing '%'`);
    const name = text.slice(start + 1, end);
    const value = env[name];
    if (value === undefined) throw new Error(`'%${name}%' does not resolve to a value.`);
    resolved += text.slice(from, start) + value;
    from = end + 1;
  }
  return resolved + text.slice(from);
}
