/**
 * deploy/: the example HAProxy config is one Debian's haproxy accepts, it
 * keeps the rules the tests' own HAProxy runs with, and the systemd unit
 * waits for a drain to finish before it kills a node.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DRAIN_MAX_MS, DRAIN_NOTICE_MS } from '../../../protocol/cluster.ts';
import { VENUE_HASH, haproxyConfig } from '../../helpers/haproxy.ts';
import { HAPROXY } from '../../helpers/programs.ts';
import { ROOT } from '../../helpers/proc.ts';
import { tempDir } from '../../helpers/relay.ts';
import { cacheDir } from '../../../bin/code-cache.js';

const read = (f: string) => fs.readFileSync(path.join(ROOT, 'deploy', f), 'utf8');
/** The config's lines without comments and indentation. */
const directives = (cfg: string) => cfg.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);

/** systemd's time span ("45", "45s", "1min 30s") in ms. */
function span(v: string): number {
  const units: Record<string, number> = { '': 1000, s: 1000, sec: 1000, min: 60_000, m: 60_000, ms: 1 };
  let ms = 0;
  for (const [, n, u] of v.matchAll(/(\d+)\s*([a-z]*)/g)) {
    const k = units[u ?? ''];
    if (k === undefined) throw new Error(`unknown unit in ${v}`);
    ms += Number(n) * k;
  }
  return ms;
}

describe('deploy/', () => {
  const dir = tempDir('deploy');
  afterAll(() => dir.remove());

  it('haproxy.cfg passes `haproxy -c` (with a throwaway certificate in place of the real one)', () => {
    const key = path.join(dir.dir, 'k.pem');
    const crt = path.join(dir.dir, 'c.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=relay'], { stdio: 'ignore' });
    const pem = path.join(dir.dir, 'relay.pem');
    fs.writeFileSync(pem, fs.readFileSync(crt, 'utf8') + fs.readFileSync(key, 'utf8'));
    const cfg = read('haproxy.cfg');
    expect(cfg).toContain('/etc/haproxy/certs/relay.pem');
    const file = path.join(dir.dir, 'haproxy.cfg');
    fs.writeFileSync(file, cfg.replace('/etc/haproxy/certs/relay.pem', pem));
    const r = spawnSync(HAPROXY, ['-c', '-f', file], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(/Configuration file is valid/);
    expect(r.status).toBe(0);
  });

  it('haproxy.cfg keeps every rule the tests run HAProxy with', () => {
    const prod = directives(read('haproxy.cfg'));
    const test = directives(haproxyConfig({ backends: [], port: 1, socket: '/x', balance: 'venue' }));
    for (const rule of [...directives(VENUE_HASH), 'option forwardfor', 'option redispatch 1', 'retries 3', 'timeout tunnel 1h', 'option httpchk GET /readyz',
      'http-check expect status 200', 'http-request disable-l7-retry unless METH_GET',
      'use_backend relays-live if { nbsrv(relays) eq 0 }', 'option httpchk GET /healthz']) {
      expect(prod, rule).toContain(rule);
      expect(test, rule).toContain(rule);
    }
    const retryOn = (lines: string[]) => lines.find((l) => l.startsWith('retry-on '));
    expect(retryOn(prod)).toBe(retryOn(test));
  });

  it('haproxy.cfg takes a draining node out before it starts sending go-away', () => {
    const d = directives(read('haproxy.cfg')).find((l) => l.startsWith('default-server '))!;
    const inter = Number(/\binter (\d+)/.exec(d)![1]);
    const fall = Number(/\bfall (\d+)/.exec(d)![1]);
    expect(inter * fall).toBeLessThan(DRAIN_NOTICE_MS);
  });

  it('the systemd unit lets a drain finish before SIGKILL and keeps secrets off the command line', () => {
    const unit = read('evva-relay.service');
    const lines = directives(unit.replace(/\\\n/g, ' '));
    const value = (k: string) => lines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
    expect(value('KillSignal')).toBe('SIGTERM');
    expect(span(value('TimeoutStopSec')!)).toBeGreaterThan(DRAIN_MAX_MS);
    expect(Number(value('LimitNOFILE'))).toBeGreaterThanOrEqual(20_000);
    expect(value('EnvironmentFile')).toMatch(/^\/etc\/evva-relay\//);
    const exec = value('ExecStart')!;
    expect(exec).toMatch(/evva-relay\.js serve /);
    expect(exec).not.toMatch(/--(api-key|cluster-secret|webhook-secret|store)\b/);
    expect(value('NoNewPrivileges')).toBe('yes');
    expect(value('ProtectSystem')).toBe('strict');
    expect(value('ReadWritePaths')).toBe('/var/lib/evva-relay');
    expect(exec).toContain('--data-dir /var/lib/evva-relay');
    // The code cache (bin/code-cache.js) lands in the folder systemd makes writable for the unit, not in a home
    // ProtectHome hides, where the relay would silently compile from source at every start.
    const env = Object.fromEntries(lines.filter((l) => l.startsWith('Environment=')).map((l) => l.slice('Environment='.length).split('=', 2)));
    expect(cacheDir(env, 'linux').startsWith(`/var/cache/${value('CacheDirectory')}/`)).toBe(true);
    expect(value('CacheDirectoryMode')).toBe('0700');
  });
});
