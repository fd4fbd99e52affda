import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The README's "Settings" table: each setting name (first column, in table order) with its "default" cell. */
export function readmeSettings(): { name: string; fallback: string }[] {
  const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Settings');
  const end = readme.indexOf('\n## ', start + 1);
  const rows: { name: string; fallback: string }[] = [];
  for (const line of readme.slice(start, end).split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split('|');
    const fallback = cells.at(-2)!.trim();
    for (const match of cells[1].matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)) rows.push({ name: match[1], fallback });
  }
  return rows;
}

/** The setting names the README's "Settings" table documents (first column, in table order). */
export function readmeSettingNames(): string[] {
  return readmeSettings().map((row) => row.name);
}
