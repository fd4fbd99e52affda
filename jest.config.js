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
  // Function modules register into the local host's registry instead of @azure/functions "test mode".
  setupFiles: ['<rootDir>/test/helpers/capture-registrations.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/helpers/azurite-global-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/azurite-global-teardown.ts',
    },
    // Faults, races, crash points, fuzzing and soak (test/reliability/README.md); shares the integration Azurite.
    {
      ...common,
      displayName: 'reliability',
      testMatch: ['<rootDir>/test/reliability/**/*.test.ts'],
      globalSetup: '<rootDir>/test/helpers/azurite-global-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/azurite-global-teardown.ts',
    },
  ],
};
