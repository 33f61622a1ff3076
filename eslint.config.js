// Lint rules for the whole workspace. The domain package is the pure core: it must not reach
// for I/O or adapters, so it can only import itself, zod and yaml (a string parser).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const ioModules = [
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'dgram',
  'dns',
  'tls',
  'child_process',
  'cluster',
  'worker_threads',
  'os',
  'process',
  'readline',
  'inspector',
  'v8',
  'vm',
];
const adapterPackages = [
  'pg',
  '@electric-sql/pglite',
  'drizzle-orm',
  'drizzle-orm/*',
  'ioredis',
  'bullmq',
  'fastify',
  'fastify/*',
  '@fastify/*',
  '@kubernetes/client-node',
  'undici',
  'prom-client',
  'pino',
  'pino-*',
  'highs',
  '@switchyard/db',
  '@switchyard/api',
  '@switchyard/config',
  '@switchyard/cli',
  '@switchyard/miners',
  '@switchyard/signals',
  '@switchyard/queue',
  '@switchyard/kube',
  '@switchyard/cluster',
  '@switchyard/telemetry',
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '.tools/**',
      'coverage/**',
      'migrations/**',
      'bench/results/**',
      '**/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      complexity: ['warn', 30],
      'max-depth': ['error', 5],
    },
  },
  {
    files: ['packages/domain/src/**/*.ts'],
    ignores: ['packages/domain/src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules.flatMap((m) => [
            { name: m, message: 'The domain package is pure: no I/O. Pass data in from a service.' },
            {
              name: `node:${m}`,
              message: 'The domain package is pure: no I/O. Pass data in from a service.',
            },
          ]),
          patterns: [
            {
              group: adapterPackages,
              message:
                'The domain package must not import adapters; define an interface here and implement it in an adapter package.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'No I/O in the domain package.' },
        { name: 'process', message: 'No environment access in the domain package; pass values in.' },
      ],
    },
  },
);
