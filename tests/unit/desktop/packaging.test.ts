/**
 * electron-builder.yml against what can be checked without electron-builder
 * (it downloads Electron, so it cannot run here):
 * the identity the app and the installer share, the packaged package.json, and
 * the `files` globs applied to the built tree and to the production
 * dependencies the way app-builder-lib 26 applies them (fileMatcher.ts,
 * util/filter.ts: minimatch with `dot`, patterns read in order, a match only
 * re-tested by exclusions and a miss only by inclusions; node_modules get the
 * `files` exclusions after `**\/*`). Run after `npm run build` (vitest's global
 * setup builds dist/).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Minimatch } from 'minimatch';
import { parseAst } from 'vite';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { APP_ID, PRODUCT_NAME } from '../../../main/desktop/identity.ts';
import { HIDDEN_FLAG } from '../../../main/desktop/login.ts';
import { iconFile } from '../../../main/desktop/tray.ts';
import { ROOT } from '../../helpers/proc.ts';

interface Config {
  appId: string; productName: string; files: string[];
  extraResources: Array<{ from: string; to: string; filter: string[] }>;
  nsis: Record<string, unknown>; extraMetadata?: Record<string, unknown>;
}
const config = parse(fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8')) as Config;
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; productName?: string; main: string; dependencies: Record<string, string>; optionalDependencies?: Record<string, string> };
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string> }> };

/** A pattern list read the way electron-builder's filter reads it. */
function matcher(patterns: string[]): (rel: string) => boolean {
  const parsed = patterns.map((p) => new Minimatch(path.posix.normalize(p), { dot: true }));
  return (rel) => {
    let match = false;
    for (const p of parsed) {
      if (match !== p.negate) continue;
      match = p.match(rel);
    }
    return match;
  };
}
const appFiles = matcher([...config.files, 'package.json']);
// fileMatcher.ts getNodeModuleFileMatcher: "**/*" then only the exclusions of `files`.
const moduleFiles = matcher(['**/*', ...config.files.filter((p) => p.startsWith('!'))]);

/** The package folder a bare import or lockfile entry names, found as Node finds it from `from`. */
function resolvePackage(name: string, from = ''): string | null {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) return null;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}
function closure(names: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = names.map((n) => resolvePackage(n)).filter((k): k is string => k !== null);
  while (todo.length) {
    const k = todo.pop()!;
    if (seen.has(k)) continue;
    seen.add(k);
    const e = lock.packages[k]!;
    // Peer dependencies count when installed: ws loads bufferutil (the project's optional dependency) if it is there.
    for (const d of Object.keys({ ...e.dependencies, ...e.optionalDependencies, ...e.peerDependencies })) {
      const r = resolvePackage(d, k);
      if (r) todo.push(r);
    }
  }
  return seen;
}

/**
 * What a built file loads, read from its syntax tree (the dependencies bundled into it carry JSDoc such as
 * `import('../api/api-request')` that a text search would follow): static imports and re-exports, `import('…')`,
 * a package loaded on first use with `createRequire(…)('…')` (prom-client at the first scrape, yazl at the first
 * bundle), and a bundled dependency's own require of a package left outside (`__require('bufferutil')` in ws).
 * Vite's parser (Oxc, native), not TypeScript's: the bundles are 3.5 MB of JavaScript, which TypeScript's parser took
 * about 1.7 s of CPU to read and 0.9 s to load, Oxc 0.65 and 0.2 s.
 */
function specifiers(text: string): string[] {
  /** An ESTree node, read only as far as this needs. */
  type Node = { type: string; [field: string]: unknown };
  const isNode = (n: unknown): n is Node => typeof (n as Node | null)?.type === 'string';
  const out: string[] = [];
  const literal = (n: unknown) => { if (isNode(n) && n.type === 'Literal' && typeof n.value === 'string') out.push(n.value); };
  const named = (n: unknown, name: string) => isNode(n) && n.type === 'Identifier' && n.name === name;
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) { for (const x of n) walk(x); return; }
    if (!isNode(n)) return;
    if (n.type === 'ImportDeclaration' || n.type === 'ExportNamedDeclaration' || n.type === 'ExportAllDeclaration'
      || n.type === 'ImportExpression') literal(n.source);
    else if (n.type === 'CallExpression' && (n.arguments as unknown[]).length === 1) {
      const callee = n.callee as Node;
      if ((callee.type === 'CallExpression' && named(callee.callee, 'createRequire')) || named(callee, '__require')) literal((n.arguments as unknown[])[0]);
    }
    for (const v of Object.values(n)) if (v && typeof v === 'object') walk(v);
  };
  walk(parseAst(text));
  return out;
}

/** Every dist file the desktop bundles load, and the packages they import. */
function reachable(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (rel: string) => {
    if (files.has(rel)) return;
    files.add(rel);
    for (const s of specifiers(fs.readFileSync(path.join(ROOT, rel), 'utf8'))) {
      if (s.startsWith('.')) visit(path.posix.join(path.posix.dirname(rel), s));
      else if (!s.startsWith('node:') && s !== 'electron') packages.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);
    }
  };
  for (const e of entries) visit(e);
  return { files, packages };
}
/** What the two desktop bundles reach, read once for the tests that judge it (dist/ does not change during the run). */
let desktop: ReturnType<typeof reachable> | undefined;
const desktopReach = () => (desktop ??= reachable(['dist/node/desktop.js', 'dist/node/desktop-core.js']));

describe('electron-builder.yml', () => {
  it('gives the app one identity: appId is the AppUserModelID the app sets, productName reaches the packaged package.json', () => {
    expect(config.appId).toBe(APP_ID);
    expect(config.productName).toBe(PRODUCT_NAME);
    // electron-builder writes package.json (with extraMetadata merged) into the app; Electron names the app from its productName.
    const packaged = { ...pkg, ...config.extraMetadata };
    expect(packaged.productName).toBe(PRODUCT_NAME);
    expect(appFiles(packaged.main)).toBe(true);
    expect(fs.existsSync(path.join(ROOT, packaged.main))).toBe(true);
  });

  it('installs per machine, with the Start Menu shortcut toasts need, and removes data itself (deleteAppDataOnUninstall is one-click only)', () => {
    expect(config.nsis).toMatchObject({ oneClick: false, perMachine: true, createStartMenuShortcut: true, deleteAppDataOnUninstall: false, include: 'resources/installer.nsh' });
    const nsh = fs.readFileSync(path.join(ROOT, 'resources/installer.nsh'), 'utf8');
    // The names the app and the installer share.
    expect(nsh).toMatch(/!define EVVA_DATA "EVVA Companion"/);
    expect(PRODUCT_NAME).toBe('EVVA Companion');
    expect(nsh).toContain(`WriteRegStr HKLM "\${EVVA_RUN_KEY}" "\${APP_ID}" '"$INSTDIR\\\${APP_EXECUTABLE_FILENAME}" ${HIDDEN_FLAG}'`);
    expect(nsh).toMatch(/SetShellVarContext all\s+CreateDirectory "\$APPDATA\\\$\{EVVA_DATA\}"/);
    expect(nsh).toMatch(/RMDir \/r "\$R2\\AppData\\Roaming\\\$\{EVVA_DATA\}"/);
  });

  it('packs everything the desktop bundles load and nothing of the bins: every reachable file of dist/ is in, relay, sim and the CLI are out', () => {
    const { files } = desktopReach();
    expect(files.size).toBeGreaterThan(3);
    for (const f of files) expect(appFiles(f), f).toBe(true);
    for (const f of ['dist/preload/preload.cjs', 'dist/renderer/index.html']) expect(appFiles(f), f).toBe(true);
    for (const f of ['dist/cli/relay.cjs', 'dist/cli/sim.cjs', 'dist/cli/companion.cjs', 'dist/cli/store.cjs', 'dist/node/desktop.js.map', 'dist/console/index.html']) expect(appFiles(f), f).toBe(false);
    // No packed file imports a package the relay alone uses.
    for (const f of fs.readdirSync(path.join(ROOT, 'dist/node')).map((n) => `dist/node/${n}`).filter((n) => n.endsWith('.js') && appFiles(n))) {
      const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
      expect(text, f).not.toMatch(/from\s*["'](pg|ioredis|kysely|tsx)["']/);
    }
  });

  it('packs exactly the production packages the desktop bundles need: pg, ioredis and tsx (with what only they need) stay out', () => {
    const { packages } = desktopReach();
    const needed = closure([...packages]);
    const production = closure([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);
    for (const p of ['pg', 'ioredis', 'tsx', 'kysely']) expect(needed.has(`node_modules/${p}`), p).toBe(false);
    const packed = [...production].filter((k) => moduleFiles(`${k}/package.json`));
    const missing = [...needed].filter((k) => !moduleFiles(`${k}/package.json`));
    const extra = packed.filter((k) => !needed.has(k));
    expect(missing, 'needed by the app but excluded by electron-builder.yml').toEqual([]);
    expect(extra, 'packed although the app never loads them: add them to the exclusions').toEqual([]);
    // Files deep inside a kept package stay (the exclusion names whole packages only); an excluded package goes with what it nests.
    expect(moduleFiles('node_modules/better-sqlite3/build/Release/better_sqlite3.node')).toBe(true);
    expect(moduleFiles('node_modules/pg/lib/client.js')).toBe(false);
    expect(moduleFiles('node_modules/conf/node_modules/env-paths/package.json')).toBe(false);
    expect(moduleFiles('node_modules/winston/lib/winston.js')).toBe(false);
  });

  it('copies outside the asar every icon the tray and the window ask for', () => {
    const res = config.extraResources.find((r) => r.from === 'resources' && r.to === 'resources')!;
    const keep = matcher(res.filter);
    for (const tone of ['green', 'amber', 'red', 'grey'] as const) {
      for (const platform of ['win32', 'linux'] as const) {
        const name = path.basename(iconFile('', tone, platform));
        expect(keep(name), name).toBe(true);
        expect(fs.existsSync(path.join(ROOT, 'resources', name)), name).toBe(true);
      }
    }
    for (const name of ['icon.ico', 'icon.png']) expect(keep(name) && fs.existsSync(path.join(ROOT, 'resources', name)), name).toBe(true);
  });
});
