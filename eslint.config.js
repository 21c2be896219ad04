// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import boundaries from 'eslint-plugin-boundaries';
import { ROOMS, KNOWN_EXCEPTIONS, allowedImports } from './scripts/layers.mjs';
import { FUNCTION_LENGTH_OPTIONS, MAX_FUNCTION_LINES, UNCOUNTED } from './scripts/function-length.mjs';

const nodeBuiltins = [
  'fs',
  'path',
  'os',
  'net',
  'tls',
  'crypto',
  'child_process',
  'http',
  'https',
  'stream',
  'events',
  'util',
  'worker_threads',
];

export default tseslint.config(
  { ignores: ['node_modules', 'out', 'dist', 'release', '.tmp'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // electron-builder require()s its hooks: CommonJS.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The engine and the hub run headless (CLI, tests, hub servers): they must never pull in Electron.
    files: ['tunnel/**', 'hub/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'electron', message: 'tunnel/ and hub/ must run without Electron.' }] },
      ],
    },
  },
  {
    // The hub is a separate service: it talks to the engine only over its HTTP API.
    files: ['hub/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'hub/ must run without Electron.' }],
          patterns: [{ group: ['**/tunnel/**'], message: 'hub/ never imports tunnel internals.' }],
        },
      ],
    },
  },
  {
    // Electron-only code stays in small adapters (main/electron/), the composition root and the preload;
    // the services, the IPC handlers and the security policy are plain Node, tested without Electron.
    files: ['main/**', 'preload/**'],
    ignores: ['main/electron/**', 'main/index.ts', 'preload/index.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'electron',
              message: 'Only main/electron/ (and main/index.ts, preload/index.ts) import electron.',
            },
          ],
          patterns: [{ group: ['**/electron/**'], message: 'Services receive Electron adapters as ports.' }],
        },
      ],
    },
  },
  {
    // The renderer is sandboxed: it reaches the world only through the preload API.
    files: ['renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['electron', ...nodeBuiltins, ...nodeBuiltins.map((m) => `node:${m}`)],
          patterns: [
            {
              // Out of renderer/ into the engine, main or the hub (the renderer's own features/tunnel is fine).
              regex: '^(\\.\\./)+(tunnel|main|hub)(/|$)',
              message: 'The renderer talks only to preload.',
            },
          ],
        },
      ],
    },
  },
  {
    // The rooms and their order (scripts/layers.mjs): a room imports only rooms below it.
    files: ['tunnel/**', 'hub/**', 'main/**', 'preload/**', 'renderer/**'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': ROOMS.map(({ type, pattern }) => ({ type, pattern, mode: 'full' })),
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          message: 'The rooms import only rooms below them (scripts/layers.mjs, docs/architecture.md).',
          policies: [
            ...ROOMS.map(({ type }) => ({
              from: { element: { type } },
              allow: { to: { element: { types: { anyOf: allowedImports(type) } } } },
            })),
            ...KNOWN_EXCEPTIONS.map(({ from, to }) => ({
              from: { file: { path: from } },
              allow: { to: { file: { path: to } } },
            })),
          ],
        },
      ],
    },
  },
  {
    // One function, one idea (scripts/function-length.mjs): a longer one is split where its ideas part.
    rules: { 'max-lines-per-function': ['error', { max: MAX_FUNCTION_LINES, ...FUNCTION_LENGTH_OPTIONS }] },
  },
  { files: UNCOUNTED, rules: { 'max-lines-per-function': 'off' } },
);
