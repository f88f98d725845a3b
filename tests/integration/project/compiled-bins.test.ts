/**
 * The bins as `npm ci` leaves them: running the compiled dist/cli (EVVA_FROM_SOURCE=1
 * runs the TypeScript source instead). dist/ is built by tests/build.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBin, startBin, type Proc } from '../../helpers/proc.ts';

const compiled = { EVVA_FROM_SOURCE: '' };
const HELPERS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../helpers');
const procs: Proc[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-compiled-'));

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGTERM', 5_000)));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('compiled bins', () => {
  it('run from dist/cli, not through tsx', async () => {
    // NODE_DEBUG=module names every CommonJS file Node loads.
    const r = await runBin('evva-companion.js', ['--version'], { ...compiled, NODE_DEBUG: 'module' });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^0\.\d+\.\d+/m);
    expect(r.out).toContain('dist/cli/companion.cjs');
    expect(r.out).not.toContain('main/core/cli.ts');
  });

  it('start the simulator, the companion and answer status', async () => {
    const sim = startBin('evva-sim.js', ['--port', '0', '--no-auto', '--quiet'], compiled);
    procs.push(sim);
    const [, simUrl] = await sim.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const companion = startBin('evva-companion.js', ['run', '--data-dir', dir, '--front-url', simUrl!, '--api-port', '0'], compiled);
    procs.push(companion);
    await companion.waitFor(/login\?once=/);
    let out = '';
    for (let i = 0; i < 40 && !out.includes('работает'); i++) {
      out = (await runBin('evva-companion.js', ['status', '--data-dir', dir], compiled)).out;
      if (!out.includes('работает')) await new Promise((r) => setTimeout(r, 250));
    }
    expect(out).toContain('iikoFront (плагин Front Web API): работает');
    // status stays light: none of the agent's heavy dependencies is loaded (NODE_DEBUG=module lists every file).
    // They are bundled into dist/cli (scripts/build.mjs): a loaded chunk's source map names the packages it holds.
    const loaded = (await runBin('evva-companion.js', ['status', '--data-dir', dir], { ...compiled, NODE_DEBUG: 'module' })).out;
    expect(loaded).toContain('dist/cli/companion.cjs');
    const chunks = [...new Set([...loaded.matchAll(/load "(\/\S+\/dist\/cli\/[^/\s"]+\.cjs)"/g)].map((m) => m[1]!))];
    expect(chunks.length).toBeGreaterThan(1);
    // (rolldown's own runtime helpers come without a map: they have no source.)
    const sources = chunks.filter((c) => fs.existsSync(`${c}.map`)).flatMap((c) => (JSON.parse(fs.readFileSync(`${c}.map`, 'utf8')) as { sources: string[] }).sources);
    expect(sources.some((s) => s.includes('node_modules/zod/')), 'the source maps name bundled packages').toBe(true);
    for (const heavy of ['undici', 'winston', 'express', 'ws', 'better-sqlite3']) {
      expect(loaded, heavy).not.toContain(`node_modules/${heavy}/`);
      expect(sources.filter((s) => s.includes(`node_modules/${heavy}/`)), heavy).toEqual([]);
    }
    // Nor Node's own fetch, which loads an HTTP stack of its own on first use (node:http is part of Node's start-up).
    const builtins = (await runBin('evva-companion.js', ['status', '--data-dir', dir], { ...compiled, NODE_OPTIONS: `--require ${path.join(HELPERS, 'builtins.cjs')}` })).out;
    expect(builtins).toMatch(/BUILTINS .*\bhttp\b/);
    expect(builtins).not.toMatch(/BUILTINS .*undici/);
    const relay = await runBin('evva-relay.js', ['--help'], compiled);
    expect(relay.code).toBe(0);
  }, 60_000);
});
