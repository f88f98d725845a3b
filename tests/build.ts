/**
 * Vitest global setup: builds dist/ once before any test runs. The UI tests
 * serve dist/renderer and tests/integration/project/compiled-bins runs dist/cli;
 * building once here keeps parallel test files from rebuilding under each other.
 *
 * It also compiles the Electron stand-in's process (tests/standin/child.ts and
 * electron.ts) to plain JavaScript in .tmp/standin/, so the desktop shell's
 * tests run the app's built bundle under plain Node, as the other bins run,
 * rather than under tsx, whose loader sees every module the app imports
 * (EVVA_FROM_SOURCE=1 keeps tsx; tests/standin/harness.ts picks), and writes
 * the copy of the bundle that the stand-in runs, whose `electron` import names
 * the stand-in (tests/standin/bundle.ts: no resolve hook, no loader thread).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformWithOxc } from 'vite';
import { writeStandInBundle } from './standin/bundle.ts';

export default async function setup(): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
  await buildStandIn(root);
  writeStandInBundle(root, path.join(root, '.tmp/standin/electron-module.mjs'));
}

/**
 * One file at a time, types erased and `./x.ts` imports rewritten to `./x.js` (no bundling: the stand-in finds its
 * .mjs neighbours next to itself, so those are copied beside it). Node 20 runs .js as ESM here (package.json "type").
 * Vite's Oxc transform, which vitest's process has loaded already: TypeScript's transpileModule made the same
 * modules but loading TypeScript cost this process about 0.9 s of CPU a run.
 */
async function buildStandIn(root: string): Promise<void> {
  const from = path.join(root, 'tests/standin');
  const to = path.join(root, '.tmp/standin');
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    const file = path.join(from, name);
    if (name.endsWith('.mjs')) { fs.copyFileSync(file, path.join(to, name)); continue; }
    if (!name.endsWith('.ts') || name === 'harness.ts' || name === 'bundle.ts') continue;
    // Throws on a syntax error, naming the file.
    const out = await transformWithOxc(fs.readFileSync(file, 'utf8'), file, {
      lang: 'ts', target: 'es2022', sourcemap: false,
      typescript: { rewriteImportExtensions: 'rewrite', onlyRemoveTypeImports: true },
    });
    fs.writeFileSync(path.join(to, name.replace(/\.ts$/, '.js')), out.code);
  }
}
