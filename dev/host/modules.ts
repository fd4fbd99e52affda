import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The function modules, found the way the Functions host finds them: package.json `main` (a file or a glob such as
 * `dist/main.js`, `dist/functions/*.js` or `dist/src/{index.js,functions/*.js}`). When the host itself runs from
 * TypeScript sources (jest), the compiled paths are mapped back to the sources: `dist/functions/x.js` →
 * `functions/x.ts`, and the bundle named by `functionsBundle.outfile` → the sources it is built from
 * (`functionsBundle.entry`, see scripts/bundle.ts). Hand-written because Node 20 has no fs.glob; only `*` within a
 * path segment and `{a,b}` alternatives are needed.
 */
export function functionModulePaths(appRoot: string, fromSources: boolean): string[] {
  const manifest = readManifest(appRoot);
  if (typeof manifest.main !== 'string' || manifest.main.trim() === '') {
    throw new Error(`package.json in ${appRoot} has no "main" listing the function modules`);
  }
  const bundle = readFunctionsBundle(appRoot);
  if (fromSources && bundle && samePath(manifest.main, bundle.outfile)) return bundleSources(appRoot, bundle.entry);
  const patterns = expandBraces(manifest.main.trim()).map((p) => (fromSources ? toSourcePattern(p) : p));
  const files = new Set<string>();
  for (const pattern of patterns) {
    for (const file of matchGlob(appRoot, pattern)) files.add(file);
  }
  if (files.size === 0) {
    throw new Error(
      `package.json "main" (${manifest.main}) matches no file under ${appRoot}` +
        (fromSources ? '' : ' (run the build)'),
    );
  }
  return [...files].sort();
}

/** `dist/functions/*.js` → `functions/*.ts`. */
export function toSourcePattern(pattern: string): string {
  return pattern.replace(/^(\.\/)?dist\//, '').replace(/\.js$/, '.ts');
}

/** package.json `functionsBundle`: the function sources (`entry`, a glob) and the bundle built from them (`outfile`). */
export interface FunctionsBundle {
  entry: string;
  outfile: string;
}

export function readFunctionsBundle(appRoot: string): FunctionsBundle | undefined {
  const bundle = readManifest(appRoot).functionsBundle;
  if (bundle === undefined) return undefined;
  const { entry, outfile } = (bundle ?? {}) as Partial<FunctionsBundle>;
  if (typeof entry !== 'string' || typeof outfile !== 'string') {
    throw new Error(`package.json in ${appRoot}: "functionsBundle" needs "entry" and "outfile" strings`);
  }
  return { entry, outfile };
}

/** The sources a bundle is built from, in the order it runs them: `index` first (it validates the settings), then by name. */
export function bundleSources(appRoot: string, entry: string): string[] {
  const files = matchGlob(appRoot, entry).sort((a, b) => indexFirst(a) - indexFirst(b) || a.localeCompare(b));
  if (files.length === 0) throw new Error(`functionsBundle.entry (${entry}) matches no file under ${appRoot}`);
  return files;
}

function indexFirst(file: string): number {
  return /^index\.[cm]?[jt]s$/.test(path.basename(file)) ? 0 : 1;
}

function readManifest(appRoot: string): { main?: unknown; functionsBundle?: unknown } {
  return JSON.parse(readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as {
    main?: unknown;
    functionsBundle?: unknown;
  };
}

function samePath(a: string, b: string): boolean {
  return path.posix.normalize(a.trim()) === path.posix.normalize(b.trim());
}

export function expandBraces(pattern: string): string[] {
  const match = /\{([^{}]*)\}/.exec(pattern);
  if (!match) return [pattern];
  const before = pattern.slice(0, match.index);
  const after = pattern.slice(match.index + match[0].length);
  return match[1].split(',').flatMap((alternative) => expandBraces(before + alternative + after));
}

function matchGlob(root: string, pattern: string): string[] {
  const segments = pattern.replace(/^\.\//, '').split('/').filter(Boolean);
  let current = [root];
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    const next: string[] = [];
    for (const dir of current) {
      if (!segment.includes('*')) {
        const candidate = path.join(dir, segment);
        if (exists(candidate, last)) next.push(candidate);
        continue;
      }
      const regex = new RegExp(`^${segment.split('*').map(escapeRegex).join('[^/]*')}$`);
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (regex.test(entry) && exists(path.join(dir, entry), last)) next.push(path.join(dir, entry));
      }
    }
    current = next;
  });
  // Declaration files sit next to sources in some layouts and are never modules to load.
  return current.filter((file) => !file.endsWith('.d.ts'));
}

function exists(file: string, mustBeFile: boolean): boolean {
  try {
    const stat = statSync(file);
    return mustBeFile ? stat.isFile() : stat.isDirectory();
  } catch {
    return false;
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
