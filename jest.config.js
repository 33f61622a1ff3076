// One jest run covers unit tests beside the code (src/**/*.test.ts) and integration
// tests (test/**/*.test.ts) that need the Redis and PostgreSQL started by scripts/test.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': [
      '@swc/jest',
      { jsc: { target: 'es2023', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/)?(@kubernetes|openid-client|jose|oauth4webapi))'],
  moduleFileExtensions: ['ts', 'js', 'json', 'mjs', 'cjs'],
  testTimeout: 30000,
  maxWorkers: 2,
};
