import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '../../..');

/** What a clone holds and reads: everything but installed, built, generated and local-only folders. */
const SKIPPED = new Set(['.git', 'node_modules', 'dist', 'coverage', '.azurite', '.azure', 'node']);
const TEXT = /\.(ts|js|mjs|md|bicep|json|ya?ml)$|^run$/;

function textFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED.has(entry.name) ? [] : textFiles(full);
    return TEXT.test(entry.name) && entry.name !== 'package-lock.json' ? [full] : [];
  });
}

const files = textFiles(root).map((file) => ({ file: path.relative(root, file), text: readFileSync(file, 'utf8') }));

/** Pointers a reader of a clone cannot follow, anywhere: documents kept elsewhere, their sections, a machine's folders. */
const OUTSIDE = [/\.\.\/shared\/(reference|design)/, /\breference §/, /\/work\//];

/** In prose, an id of a requirement list kept elsewhere: a capital and a number, in brackets, alone or listed. */
const REQUIREMENT_IDS = /\((?:[A-Z][0-9]{1,2})(?:, ?[A-Z][0-9]{1,2})*\)/;

/** The prose of a line: all of it in Markdown, the comment part in code. */
function prose(file: string, line: string): string {
  if (file.endsWith('.md')) return line;
  const trimmed = line.trim();
  if (trimmed.startsWith('*') || trimmed.startsWith('/*')) return line;
  const comment = line.indexOf('//');
  return comment < 0 ? '' : line.slice(comment);
}

describe('the repository explains itself', () => {
  it('reads the files it checks', () => {
    expect(files.map((f) => f.file)).toEqual(expect.arrayContaining(['README.md', 'shared/config.ts', '.ci/run']));
  });

  it('no comment or document points outside the repository', () => {
    const found = files.flatMap(({ file, text }) =>
      text
        .split('\n')
        .flatMap((line, index) =>
          OUTSIDE.some((p) => p.test(line)) || REQUIREMENT_IDS.test(prose(file, line))
            ? [`${file}:${index + 1}: ${line.trim()}`]
            : [],
        ),
    );
    expect(found).toEqual([]);
  });

  it('every relative link in a Markdown file names a file of the repository', () => {
    const broken = files
      .filter(({ file }) => file.endsWith('.md'))
      .flatMap(({ file, text }) =>
        [...text.matchAll(/\]\(([^)\s]+)\)/g)]
          .map((match) => match[1])
          .filter((target) => !/^(https?:|mailto:|#)/.test(target))
          .filter((target) => {
            const resolved = path.resolve(root, path.dirname(file), target.split('#')[0]);
            return !resolved.startsWith(root + path.sep) || !existsSync(resolved);
          })
          .map((target) => `${file}: ${target}`),
      );
    expect(broken).toEqual([]);
  });
});
