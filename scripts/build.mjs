#!/usr/bin/env node
/**
 * `npm run build`: one Vite build (no tsx) that produces
 *   dist/renderer/  the UI (React), served by the core and loaded by Electron;
 *   dist/console/   the support console (React), served by the relay at /console/;
 *   dist/node/      the Electron main process and the core's utilityProcess entry (ESM),
 *   dist/cli/       the bins (companion, relay, sim: CommonJS, for their code cache: bin/code-cache.js),
 *                   both with their dependencies bundled in (not better-sqlite3, Electron's own, nor those loaded on first use);
 *   dist/preload/   the Electron preload (CommonJS: a sandboxed preload cannot be an ES module).
 * Plain JavaScript so it runs on a fresh clone before anything is compiled (`prepare`).
 * Why not electron-vite: see docs/desktop.md ("Build").
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const at = (p) => path.join(root, p);
// The dependencies are bundled into dist/node and dist/cli: a bin's start was mostly Node loading module files one by one
// (`evva-relay serve` read ~740 of them: kysely alone 263, undici 110, express, winston and logform with their small
// helpers), and a few large files cost far less CPU than many small ones (docs/testing.md, "How long a run takes").
// The desktop shell's electron-store is bundled too: with conf and ajv it was ~100 files, a quarter of the shell's
// CPU to its tray (docs/desktop.md, "Build"). Left outside: native better-sqlite3 and the optional native helpers ws
// looks for, Electron (the app's host), tsx (the bins from source), optional packages a dependency looks for
// only when installed (kerberos for a Negotiate proxy, pg-native), and what the code itself loads on first use with
// createRequire (pg, ioredis, prom-client, yazl: not at start, and not at all by most commands).
const kept = ['better-sqlite3', 'bufferutil', 'utf-8-validate', 'pg-native', 'kerberos', 'electron', 'tsx'];
const external = (id) => id.startsWith('node:') || builtinModules.includes(id) || kept.some((d) => id === d || id.startsWith(`${d}/`));
const quiet = process.argv.includes('--quiet') ? 'warn' : 'info';

// The bundles are the ones users get, whoever builds them. Vite keeps a NODE_ENV it finds, and vitest runs
// tests/build.ts with NODE_ENV=test: the UI tests were served React's development build, which no user gets
// (StrictMode runs every effect twice: two loads of Настройки, one of which could erase what the test had just
// typed; two live sockets a page; development-only checks costing CPU).
process.env.NODE_ENV = 'production';

const started = Date.now();
fs.rmSync(at('dist'), { recursive: true, force: true });

await build({
  configFile: false, logLevel: quiet, root: at('renderer'), base: '/',
  plugins: [react()],
  build: { outDir: at('dist/renderer'), emptyOutDir: true, target: 'chrome120', sourcemap: false, assetsInlineLimit: 0 },
});

// EVVA's support console, served by the relay at /console/ (docs/console.md): its own page, the renderer's components and catalogue.
await build({
  configFile: false, logLevel: quiet, root: at('renderer/console'), base: '/console/',
  plugins: [react()],
  build: { outDir: at('dist/console'), emptyOutDir: true, target: 'chrome120', sourcemap: false, assetsInlineLimit: 0 },
});

// Vite externalizes every dependency of an SSR build by default: here all but `kept` are pulled in, resolved as
// Node resolves them (a package's `main` and its `node` export, not the ESM `module` build Vite prefers: moment's
// ESM build, required by the log rotation, is a namespace where the code expects the function).
const nodeBuild = (entries, outDir, output) => build({
  configFile: false, logLevel: quiet, root,
  ssr: { noExternal: true, resolve: { mainFields: ['main'], conditions: ['node'] } },
  build: {
    ssr: true, outDir: at(outDir), emptyOutDir: true, target: 'node20', sourcemap: true, minify: false,
    rollupOptions: { input: Object.fromEntries(Object.entries(entries).filter(([, f]) => fs.existsSync(f))), external, output },
  },
});

// The Electron main process and the core's utilityProcess entry, as ES modules (Electron 28+ loads them).
await nodeBuild({ desktop: at('main/desktop/main.ts'), 'desktop-core': at('main/desktop/core-entry.ts') }, 'dist/node',
  { format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' });

// The bins, as CommonJS with chunks of their own: bin/launch.js compiles them with a V8 code cache (bin/code-cache.js),
// which Node 20 offers only for scripts, not for ES modules; a start then compiles almost nothing, and Node's CommonJS
// loader costs less per file than its ES one (docs/testing.md, "A bin's start"). Each entry exports `runCommandLine()` (the bin
// awaits it: a top-level await has no CommonJS form). Their own folder keeps them out of the desktop app (electron-builder.yml).
await nodeBuild({ companion: at('main/core/cli.ts'), relay: at('relay/cli.ts'), sim: at('sim/cli.ts') }, 'dist/cli',
  { format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: '[name]-[hash].cjs' });

if (fs.existsSync(at('preload/index.ts'))) {
  await build({
    configFile: false, logLevel: quiet, root,
    build: {
      ssr: true, outDir: at('dist/preload'), emptyOutDir: true, target: 'node20', minify: false,
      rollupOptions: { input: { preload: at('preload/index.ts') }, external: ['electron'], output: { format: 'cjs', entryFileNames: '[name].cjs' } },
    },
  });
}
console.log(`build: dist/ ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
// Under `npm ci` on Node 20 (the bins' Node), npm has just warned EBADENGINE about electron, its
// installer's packages and electron-store: those run on Electron's own Node inside the desktop app.
// Say so right under the warnings, so a newcomer need not puzzle over them (README, "Which Node runs what").
if (process.env.npm_lifecycle_event === 'prepare' && Number(process.versions.node.split('.')[0]) < 22) {
  console.log('note: the "EBADENGINE" warnings above (electron, @electron/get, @electron-internal/extract-zip, electron-store, conf) are expected on Node '
    + `${process.versions.node}: those packages run inside the desktop app on Electron's own Node 24, not on this one; the bins, tests and demo need Node 20.19+. See README, "Which Node runs what".`);
}
