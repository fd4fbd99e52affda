import childProcess from 'node:child_process';

/**
 * The unit project starts no process (no Azurite, no `node` for a package, no openssl): a test that needs one belongs
 * with the integration project. Every way to start one fails the test that tries, naming it. (Loopback HTTP servers
 * in this process are fine.)
 */
const STARTERS = ['spawn', 'spawnSync', 'fork', 'exec', 'execSync', 'execFile', 'execFileSync'] as const;
const patched = childProcess as unknown as Record<(typeof STARTERS)[number], unknown>;
const originals = new Map(STARTERS.map((name) => [name, patched[name]]));

beforeAll(() => {
  for (const name of STARTERS) {
    patched[name] = () => {
      throw new Error(`child_process.${name}: the unit project starts no process; this test belongs with integration`);
    };
  }
});

afterAll(() => {
  for (const [name, original] of originals) patched[name] = original;
});
