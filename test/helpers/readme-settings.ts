import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The setting names the README's "Settings" table documents (first column, in table order). */
export function readmeSettingNames(): string[] {
  const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Settings');
  const end = readme.indexOf('\n## ', start + 1);
  const names: string[] = [];
  for (const line of readme.slice(start, end).split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1];
    for (const match of firstCell.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)) names.push(match[1]);
  }
  return names;
}
