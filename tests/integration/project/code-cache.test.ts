/**
 * The bins' V8 code cache (bin/code-cache.js): used when it is this user's alone and made from the same source,
 * never otherwise. Each load runs in a fresh Node, as a bin's start does.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runBin } from '../../helpers/proc.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-code-cache-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A folder of bundles (`m.cjs` holding `source`) and a cache folder for it. */
function setup(source: string): { root: string; dir: string } {
  const root = path.join(tmp, `case-${n++}`);
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'm.cjs'), source);
  return { root, dir: path.join(root, 'cache') };
}

/** Loads `root/m.cjs` in a new Node with the cache in `dir`: what it exported and what the cache did. */
function load({ root, dir }: { root: string; dir: string }, flags: string[] = []): { value: unknown; seen: string[] } {
  const script = `import { enableCodeCache } from ${JSON.stringify(path.join(ROOT, 'bin/code-cache.js'))};
import { createRequire } from 'node:module';
import v8 from 'node:v8';
for (const f of ${JSON.stringify(flags)}) v8.setFlagsFromString(f);
const seen = enableCodeCache({ root: ${JSON.stringify(root)}, dir: ${JSON.stringify(dir)}, flags: ${JSON.stringify(flags)} });
const value = createRequire(import.meta.url)(${JSON.stringify(path.join(root, 'm.cjs'))});
console.log(JSON.stringify({ value, seen: [...seen.values()] }));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 })) as { value: unknown; seen: string[] };
}

const bundle = (word: string) => `function pick() { return ${JSON.stringify(word)}; }\nmodule.exports = pick();\n`;

describe('code cache', () => {
  it('is made by the first start and used by the next, in a folder and files only this user can write', () => {
    const c = setup(bundle('aaaa'));
    expect(load(c)).toEqual({ value: 'aaaa', seen: ['miss'] });
    expect(load(c)).toEqual({ value: 'aaaa', seen: ['hit'] });
    expect(fs.statSync(c.dir).mode & 0o777).toBe(0o700);
    const files = fs.readdirSync(c.dir);
    expect(files).toHaveLength(1);
    expect(fs.statSync(path.join(c.dir, files[0]!)).mode & 0o777).toBe(0o600);
  });

  it('is never used for a changed bundle, even one of the same length (V8 compares only the length)', () => {
    const c = setup(bundle('aaaa'));
    load(c);
    fs.writeFileSync(path.join(c.root, 'm.cjs'), bundle('bbbb'));
    expect(load(c)).toEqual({ value: 'bbbb', seen: ['miss'] });
    expect(load(c)).toEqual({ value: 'bbbb', seen: ['hit'] });
  });

  it('compiles from source when V8 refuses the cache, and replaces it', () => {
    const c = setup(bundle('aaaa'));
    load(c);
    const [file] = fs.readdirSync(c.dir);
    fs.writeFileSync(path.join(c.dir, file!), Buffer.alloc(fs.statSync(path.join(c.dir, file!)).size, 7));
    expect(load(c)).toEqual({ value: 'aaaa', seen: ['rejected'] });
    expect(load(c)).toEqual({ value: 'aaaa', seen: ['hit'] });
  });

  it('is made under the flags its bundle compiled with, though the program changes them as it runs (the relay does)', () => {
    const c = setup(`require('node:v8').setFlagsFromString('--semi-space-growth-factor=2');\nmodule.exports = 'grown';\n`);
    const flags = ['--semi-space-growth-factor=1'];
    expect(load(c, flags)).toEqual({ value: 'grown', seen: ['miss'] });
    expect(load(c, flags)).toEqual({ value: 'grown', seen: ['hit'] });
  });

  it('neither reads nor writes a cache folder others can write', () => {
    const c = setup(bundle('aaaa'));
    load(c);
    const before = fs.readdirSync(c.dir);
    fs.chmodSync(c.dir, 0o777);
    expect(load(c)).toEqual({ value: 'aaaa', seen: [] });
    fs.rmSync(path.join(c.dir, before[0]!));
    expect(load(c)).toEqual({ value: 'aaaa', seen: [] });
    expect(fs.readdirSync(c.dir)).toEqual([]);
  });

  it('ignores a cache file others can write', () => {
    const c = setup(bundle('aaaa'));
    load(c);
    const [file] = fs.readdirSync(c.dir);
    fs.chmodSync(path.join(c.dir, file!), 0o666);
    expect(load(c)).toEqual({ value: 'aaaa', seen: ['miss'] });
    expect(fs.statSync(path.join(c.dir, file!)).mode & 0o777).toBe(0o600);
  });

  it('is what the compiled bins use: a per-user folder under XDG_CACHE_HOME, written once', async () => {
    const home = path.join(tmp, 'xdg');
    const env = { EVVA_FROM_SOURCE: '', XDG_CACHE_HOME: home };
    expect((await runBin('evva-relay.js', ['--version'], env)).code).toBe(0);
    const [dir] = fs.readdirSync(path.join(home, 'evva-companion'));
    const folder = path.join(home, 'evva-companion', dir!);
    const made = Object.fromEntries(fs.readdirSync(folder).map((f) => [f, fs.statSync(path.join(folder, f)).mtimeMs]));
    expect(Object.keys(made).some((f) => f.startsWith('relay.cjs-'))).toBe(true);
    expect((await runBin('evva-relay.js', ['--version'], env)).code).toBe(0);
    expect(Object.fromEntries(fs.readdirSync(folder).map((f) => [f, fs.statSync(path.join(folder, f)).mtimeMs])), 'a hit rewrites nothing').toEqual(made);
  });
});
