/**
 * Vitest global setup: makes sure the machine has the programs the tests start
 * themselves, before any test runs, so `npm test` works on a fresh machine.
 *
 *  - Chromium's headless shell (the UI tests drive Debian's /usr/bin/chromium-headless-shell; nothing is downloaded);
 *  - Postgres, Redis and HAProxy (the relay's store and cluster tests run them on loopback);
 *  - libfaketime (the chaos soak moves the companion's clock with it; a test checks that it can).
 *
 * On Debian as root, a missing one is installed with apt-get, saying what and
 * why, once. Anywhere else the run stops at once with the one command to run,
 * instead of a hundred tests failing one by one later.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { findLibfaketime } from '../scripts/chaos/faketime.ts';
import { CHROMIUM, HAPROXY, REDIS_SERVER } from './helpers/programs.ts';

export interface Need {
  /** The Debian package that brings it. */
  pkg: string;
  /** Which tests need it, in a few words. */
  why: string;
  /** True when it is already there. */
  present: () => boolean;
}

const postgresPresent = (): boolean => {
  const base = '/usr/lib/postgresql';
  return fs.existsSync(base) && fs.readdirSync(base).some((v) => fs.existsSync(`${base}/${v}/bin/postgres`));
};

export const NEEDS: Need[] = [
  { pkg: 'chromium-headless-shell', why: 'the UI tests drive it (tests/ui)', present: () => fs.existsSync(CHROMIUM) },
  { pkg: 'postgresql', why: 'the relay store and console tests run a real Postgres', present: postgresPresent },
  { pkg: 'redis-server', why: 'the cluster tests run a real Redis', present: () => fs.existsSync(REDIS_SERVER) },
  { pkg: 'haproxy', why: 'the cluster tests put a real HAProxy in front of the relays', present: () => fs.existsSync(HAPROXY) },
  { pkg: 'faketime', why: 'the chaos soak moves the companion\'s clock with libfaketime (and a test checks it can)', present: () => findLibfaketime() !== null },
];

export interface Machine {
  root: boolean;
  debian: boolean;
  aptGet: boolean;
}

export type Plan =
  | { kind: 'ready' }
  | { kind: 'install'; packages: string[]; say: string }
  | { kind: 'stop'; say: string };

/** What to do about the missing packages on this machine (pure: the tests of this file call it). */
export function plan(missing: Array<Pick<Need, 'pkg' | 'why'>>, m: Machine): Plan {
  if (missing.length === 0) return { kind: 'ready' };
  const packages = missing.map((n) => n.pkg);
  const list = missing.map((n) => `  ${n.pkg}: ${n.why}`).join('\n');
  if (m.debian && m.aptGet && m.root) {
    return { kind: 'install', packages, say: `npm test: installing ${packages.join(', ')} with apt-get (once; the tests start them themselves on loopback):\n${list}` };
  }
  const command = m.debian ? `sudo apt-get install -y ${packages.join(' ')}` : `install ${packages.join(', ')} with your system's package manager (on Debian: apt-get install -y ${packages.join(' ')})`;
  return { kind: 'stop', say: `npm test needs programs this machine lacks:\n${list}\nRun this once, then npm test again:\n  ${command}` };
}

export default function setup(): void {
  const missing = NEEDS.filter((n) => !n.present());
  const p = plan(missing, {
    root: process.getuid?.() === 0,
    debian: fs.existsSync('/etc/debian_version'),
    aptGet: fs.existsSync('/usr/bin/apt-get'),
  });
  if (p.kind === 'ready') return;
  if (p.kind === 'stop') throw new Error(p.say);
  process.stdout.write(`${p.say}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const t0 = Date.now();
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...p.packages], { stdio: ['ignore', 'inherit', 'inherit'], env });
  const still = NEEDS.filter((n) => !n.present()).map((n) => n.pkg);
  if (still.length) throw new Error(`apt-get finished, but these are still missing: ${still.join(', ')}`);
  process.stdout.write(`npm test: installed ${p.packages.join(', ')} in ${Math.round((Date.now() - t0) / 1000)} s\n`);
}
