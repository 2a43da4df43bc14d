// ESLint flat config. The rule that matters most: src/domain/ stays pure
// (docs/architecture.md §6 rule 1) — no I/O, environment, clock or logger there.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impureModules = [
  'fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'net', 'node:net', 'http', 'node:http',
  'https', 'node:https', 'child_process', 'node:child_process', 'os', 'node:os', 'dgram', 'node:dgram',
  'readline', 'node:readline', 'process', 'node:process', 'worker_threads', 'node:worker_threads',
  'pino', '@kubernetes/client-node', '@grpc/grpc-js', 'prom-client',
];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'coverage/**', 'test/envtest/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', performance: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    ignores: ['src/domain/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: impureModules.map((name) => ({ name, message: 'src/domain is pure: no I/O, env, clock or logger (docs/architecture.md §6 rule 1).' })),
        patterns: [{ group: ['**/ingest/**', '**/cli/**', '**/k8s/**', '**/runtime/**', '**/telemetry/**', '**/controllers/**'], message: 'src/domain must not depend on the I/O shell.' }],
      }],
      'no-restricted-globals': ['error',
        { name: 'process', message: 'src/domain is pure: no environment or process access.' },
        { name: 'fetch', message: 'src/domain is pure: no I/O.' },
        { name: 'setTimeout', message: 'src/domain is pure: no clock.' },
        { name: 'setInterval', message: 'src/domain is pure: no clock.' },
        { name: 'performance', message: 'src/domain is pure: no clock.' },
        { name: 'console', message: 'src/domain is pure: no logging.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'src/domain is pure: take time as an argument.' },
        { object: 'Math', property: 'random', message: 'src/domain is deterministic.' },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'src/domain is pure: new Date() reads the clock.' }],
    },
  },
);
