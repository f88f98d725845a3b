/**
 * Vitest global setup: builds dist/ once before any test runs. The UI tests
 * serve dist/renderer and tests/integration/project/compiled-bins runs dist/node;
 * building once here keeps parallel test files from rebuilding under each other.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
}
