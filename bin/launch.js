// Shared by the bins: run the compiled JavaScript (dist/cli, built by `npm run build`, which `npm ci` runs via
// `prepare`) with its V8 code cache (code-cache.js), or the TypeScript source through tsx when EVVA_FROM_SOURCE=1
// or when nothing is built yet.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { enableCodeCache } from './code-cache.js';

/**
 * Sets the V8 `flags` (before the first module compiles), then runs the `runCommandLine()` of `dist/cli/<name>.cjs`, or of
 * `source` (relative to the repo root) through tsx.
 */
export async function launch(name, source, flags = []) {
  for (const flag of flags) v8.setFlagsFromString(flag);
  const dir = fileURLToPath(new URL('../dist/cli/', import.meta.url));
  const compiled = `${dir}${name}.cjs`;
  let cli;
  if (process.env.EVVA_FROM_SOURCE === '1' || !existsSync(compiled)) {
    const { register } = await import('tsx/esm/api');
    register();
    cli = await import(new URL(`../${source}`, import.meta.url).href);
  } else {
    enableCodeCache({ root: dir, flags });
    cli = createRequire(import.meta.url)(compiled);
  }
  await cli.runCommandLine();
}
