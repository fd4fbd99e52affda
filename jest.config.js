// Jest: TypeScript through @swc/jest (fast, no type-check: `npm run typecheck` does that).
// Projects: unit (no I/O beyond loopback), integration (real Azurite started by the global setup, simulator over
// loopback HTTP, the local host in-process).
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
  ],
};
const common = {
  testEnvironment: 'node',
  transform,
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The build's output (dist/package holds a package.json of the same name) is not part of the module map.
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  // Function modules register into the local host's registry instead of @azure/functions "test mode".
  setupFiles: ['<rootDir>/test/helpers/capture-registrations.ts'],
};

// The reliability project (test/reliability/README.md) takes about 5 minutes on 2 cores: it runs only when asked
// for (`npm run test:reliability`, a path under test/reliability, or RELIABILITY=1), not in the default `npm test`.
const reliabilityRequested =
  process.env.RELIABILITY === '1' || process.argv.some((arg) => /(^|\/)reliability(\/|$)/.test(arg));

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      // No child processes: a test that needs one (Azurite, a package load, openssl) is an integration test.
      setupFilesAfterEnv: ['<rootDir>/test/helpers/no-child-processes.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/helpers/azurite-global-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/azurite-global-teardown.ts',
    },
    // Faults, races, crash points, fuzzing and soak; shares the integration Azurite setup.
    ...(reliabilityRequested
      ? [
          {
            ...common,
            displayName: 'reliability',
            testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
            globalSetup: '<rootDir>/test/helpers/azurite-global-setup.ts',
            globalTeardown: '<rootDir>/test/helpers/azurite-global-teardown.ts',
          },
        ]
      : []),
  ],
};
