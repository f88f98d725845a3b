#!/usr/bin/env node
// Runs the compiled JavaScript (dist/node, built by `npm run build`, which `npm ci` runs via `prepare`).
// EVVA_FROM_SOURCE=1 runs the TypeScript source through tsx instead: the tests do, so they never run a stale build.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/node/sim.js', import.meta.url);
if (process.env.EVVA_FROM_SOURCE === '1' || !existsSync(compiled)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../sim/cli.ts');
} else {
  await import(compiled.href);
}
