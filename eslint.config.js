// Lint rules that keep the architecture honest, beside typescript-eslint's recommended set.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'src/gen/', '.tap/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', fetch: 'readonly', AbortSignal: 'readonly', performance: 'readonly', structuredClone: 'readonly', NodeJS: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[object.name='sql'][property.name=/^(raw|unsafe)$/]", message: 'No sql.raw/sql.unsafe: parameterize (raw SQL only in named functions in src/adapters/db).' },
        { selector: "CallExpression[callee.property.name='unsafe']", message: 'No .unsafe(): parameterize.' },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['fastify', 'fastify-*', '@fastify/*', 'postgres', 'drizzle-orm', 'drizzle-orm/*', '@electric-sql/*', 'amqplib', 'pino', 'node:fs', 'node:fs/*', 'node:child_process'], message: 'src/core is pure domain: reach the outside world through src/core/ports.ts.' }] }],
    },
  },
  {
    files: ['src/**/*.ts', 'workers/**/*.ts'],
    ignores: ['src/config.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Only src/config.ts reads the environment.' }],
    },
  },
  {
    // Test helpers create and drop scratch databases by generated name; tests may use any.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
)
