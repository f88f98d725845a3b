import { describe, expect, it } from 'vitest';
import { NEEDS, plan } from '../../machine.ts';

const debianRoot = { root: true, debian: true, aptGet: true };
const need = (pkg: string) => ({ pkg, why: `${pkg} tests` });

describe('npm test sets the machine up (tests/machine.ts)', () => {
  it('does nothing when every program is there', () => {
    expect(plan([], debianRoot)).toEqual({ kind: 'ready' });
    expect(plan([], { root: false, debian: false, aptGet: false })).toEqual({ kind: 'ready' });
  });

  it('installs what is missing with apt-get on Debian as root, naming each package and why', () => {
    const p = plan([need('chromium'), need('haproxy')], debianRoot);
    expect(p.kind).toBe('install');
    if (p.kind !== 'install') return;
    expect(p.packages).toEqual(['chromium', 'haproxy']);
    expect(p.say).toMatch(/installing chromium, haproxy with apt-get/);
    expect(p.say).toContain('chromium: chromium tests');
    expect(p.say).toContain('haproxy: haproxy tests');
  });

  it('stops at once with the one command to run when it may not install: not root, or no apt-get, or not Debian', () => {
    const notRoot = plan([need('postgresql'), need('redis-server')], { ...debianRoot, root: false });
    expect(notRoot).toMatchObject({ kind: 'stop' });
    expect(notRoot.kind === 'stop' && notRoot.say).toContain('sudo apt-get install -y postgresql redis-server');
    const noApt = plan([need('haproxy')], { ...debianRoot, aptGet: false });
    expect(noApt.kind).toBe('stop');
    const elsewhere = plan([need('chromium')], { root: true, debian: false, aptGet: false });
    expect(elsewhere.kind).toBe('stop');
    expect(elsewhere.kind === 'stop' && elsewhere.say).toMatch(/package manager \(on Debian: apt-get install -y chromium\)/);
  });

  it('knows the programs the tests start themselves, each by its Debian package, and finds them on this machine', () => {
    expect(NEEDS.map((n) => n.pkg)).toEqual(['chromium-headless-shell', 'postgresql', 'redis-server', 'haproxy', 'faketime']);
    // The global setup ran before this file: whatever was missing is installed now, or the run stopped.
    expect(NEEDS.filter((n) => !n.present()).map((n) => n.pkg)).toEqual([]);
  });
});
