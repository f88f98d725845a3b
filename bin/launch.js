// Shared by the bins: run the compiled JavaScript (dist/node, built by `npm run build`,
// which `npm ci` runs via `prepare`), or the TypeScript source through tsx when
// EVVA_FROM_SOURCE=1 (the tests set it, so they never run a stale build) or when
// nothing is built yet.
import { existsSync } from 'node:fs';

/** Starts `dist/node/<name>.js`, or `source` (relative to the repo root) through tsx. */
export async function launch(name, source) {
  const compiled = new URL(`../dist/node/${name}.js`, import.meta.url);
  if (process.env.EVVA_FROM_SOURCE === '1' || !existsSync(compiled)) {
    const { register } = await import('tsx/esm/api');
    register();
    await import(new URL(`../${source}`, import.meta.url).href);
  } else {
    await import(compiled.href);
  }
}
