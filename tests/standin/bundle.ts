/**
 * The built main bundle as the stand-in runs it, without a module resolve hook: a copy of dist/node/desktop.js whose
 * one `import … from "electron"` names the stand-in's module (electron-module.mjs) instead. On Node 20 a resolve
 * hook (`module.register`) runs in a loader thread of its own, which cost a shell ~125 ms of CPU to its tray
 * (docs/testing.md, "The desktop shell's start"). The copy sits two folders below the app as dist/node/ does, so the
 * bundle's `root` (`../..` from its own file) is still the app; its chunks are symlinks to dist/node's, which Node
 * loads by their real paths. Everything the shell runs but this one specifier is the product's file as built
 * (tests/integration/desktop/bundle.test.ts checks that).
 */
import fs from 'node:fs';
import path from 'node:path';

/** Where tests/build.ts writes the copy, relative to the app: beside .tmp/standin, two folders down. */
export const STANDIN_BUNDLE_DIR = '.tmp/desktop';

/**
 * Writes the copy of `app`'s dist/node/desktop.js into `app`/`dir` (emptied first) with its `electron` import
 * pointing at `electronModule` (a file), and returns the copy's path. Throws unless the bundle imports `electron`
 * exactly once, statically: anything else would still need the hook.
 */
export function writeStandInBundle(app: string, electronModule: string, dir = STANDIN_BUNDLE_DIR): string {
  const dist = path.join(app, 'dist/node');
  const to = path.resolve(app, dir);
  if (path.resolve(to, '../..') !== path.resolve(app)) throw new Error(`${dir}: the copy must sit two folders below the app, as dist/node does`);
  const source = fs.readFileSync(path.join(dist, 'desktop.js'), 'utf8');
  const imports = source.match(/\bfrom\s*"electron"/g) ?? [];
  if (imports.length !== 1 || /["'`]electron(\/[^"'`]*)?["'`]/.test(source.replace(imports[0]!, ''))) {
    throw new Error(`${dist}/desktop.js: expected one static import of "electron" (found ${imports.length} and maybe others)`);
  }
  let specifier = path.relative(to, electronModule).split(path.sep).join('/');
  if (!specifier.startsWith('.')) specifier = `./${specifier}`;
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(dist)) {
    if (name.endsWith('.js') && name !== 'desktop.js') fs.symlinkSync(path.join(dist, name), path.join(to, name));
  }
  const copy = path.join(to, 'desktop.js');
  fs.writeFileSync(copy, source.replace(imports[0]!, `from ${JSON.stringify(specifier)}`));
  return copy;
}
