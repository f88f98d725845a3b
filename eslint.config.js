// Lint: typescript-eslint's recommended rules plus the project's process boundary.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const noElectron = {
  'no-restricted-imports': ['error', {
    paths: [{ name: 'electron', message: 'electron may be imported only in main/desktop and preload: the core, relay, sim and protocol must run headless.' }],
    patterns: [{ group: ['electron/*'], message: 'electron may be imported only in main/desktop and preload.' }],
  }],
};

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * The folder graph (docs/architecture.md): who may import whom. Each rule names
 * a folder and either the only folders its files may import from (`allow`) or
 * the ones they must not (`deny`); packages (no leading dot) are not folders and
 * pass. The most specific folder's rule applies. Tests, scripts and benchmarks
 * may import anything.
 */
const GRAPH = [
  { from: 'protocol/', allow: ['protocol/', 'common/'], why: 'protocol/ is the wire only: it imports nothing but protocol/ and common/' },
  { from: 'common/', allow: ['common/', 'protocol/', 'package.json'], why: 'common/ is shared by every program: it imports only common/ and protocol/' },
  { from: 'face/', allow: ['face/', 'protocol/', 'common/'], why: 'face/ is read by the CLI, the tray, the window and the relay: it imports only face/, protocol/ and common/' },
  { from: 'renderer/', allow: ['renderer/', 'protocol/', 'face/', 'common/'], why: 'the window (renderer/) imports only the contracts (protocol/), the presentation (face/) and common/' },
  { from: 'relay/', deny: ['main/', 'renderer/', 'sim/', 'preload/'], why: 'the relay never imports the companion (main/): share through protocol/, face/ or common/' },
  { from: 'sim/', deny: ['main/', 'relay/', 'renderer/', 'preload/'], why: 'the simulator never imports the companion (main/) or the relay: share through protocol/ or common/' },
  { from: 'main/core/front/', deny: ['main/core/tunnel/'], why: 'front/ and tunnel/ do not import each other: what they share is main/core/upstream.ts' },
  { from: 'main/core/tunnel/', deny: ['main/core/front/'], why: 'front/ and tunnel/ do not import each other: what they share is main/core/upstream.ts' },
  { from: 'main/core/', deny: ['main/desktop/', 'renderer/', 'relay/', 'sim/', 'preload/'], why: 'the core runs headless: it never imports the desktop shell, the window, the relay or the simulator' },
];

/** The repository path (with `/`) an import names, or null for a package. */
function target(file, source) {
  if (!source.startsWith('.')) return null;
  return path.relative(root, path.resolve(path.dirname(file), source)).split(path.sep).join('/');
}

const inside = (p, folder) => (folder.endsWith('/') ? p.startsWith(folder) : p === folder);

const folders = {
  meta: { type: 'problem', schema: [], messages: { edge: '{{file}} may not import {{target}}: {{why}}.' } },
  create(context) {
    const file = context.filename;
    const rel = path.relative(root, file).split(path.sep).join('/');
    const rule = GRAPH.filter((r) => rel.startsWith(r.from)).sort((a, b) => b.from.length - a.from.length)[0];
    if (!rule) return {};
    const check = (node) => {
      const src = node.source;
      if (!src || src.type !== 'Literal' || typeof src.value !== 'string') return;
      const to = target(file, src.value);
      if (to === null) return;
      const bad = rule.allow ? !rule.allow.some((f) => inside(to, f)) : rule.deny.some((f) => inside(to, f));
      if (bad) context.report({ node: src, messageId: 'edge', data: { file: rel, target: to, why: rule.why } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'release/**', 'renderer/dist/**', 'coverage/**', '.stryker-tmp/**', 'reports/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { graph: { rules: { folders } } },
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      ...noElectron,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      'graph/folders': 'error',
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
