// Lint: typescript-eslint's recommended rules plus the project's process boundary.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const noElectron = {
  'no-restricted-imports': ['error', {
    paths: [{ name: 'electron', message: 'electron may be imported only in main/desktop and preload: the core, relay, sim and protocol must run headless.' }],
    patterns: [{ group: ['electron/*'], message: 'electron may be imported only in main/desktop and preload.' }],
  }],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'release/**', 'renderer/dist/**', 'coverage/**', '.stryker-tmp/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      ...noElectron,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // The UI runs in a browser (or Electron's sandboxed renderer), never in Node.
    files: ['renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Only the desktop shell, the preload and tests (which mock it) may touch electron.
    files: ['main/desktop/**', 'preload/**', 'tests/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
