/** The plugin tokens the companion still owes a logout are kept on disk, bounded. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OWED_MAX, OWED_MAX_AGE_MS, SESSION_FILE, sessionFile } from '../../../main/core/front/session-file.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-sessfile-')); dirs.push(d); return d; };

describe('front-session.json', () => {
  it('keeps every token until its logout was answered, and removes the file when none is left', () => {
    const dir = tmp();
    const store = sessionFile(dir, 'http://127.0.0.1:9042');
    store.hold('a');
    store.hold('b');
    expect(sessionFile(dir, 'http://127.0.0.1:9042').load()).toEqual(['a', 'b']);
    expect(fs.statSync(path.join(dir, SESSION_FILE)).mode & 0o777).toBe(0o600);
    store.release('a');
    expect(sessionFile(dir, 'http://127.0.0.1:9042').load()).toEqual(['b']);
    store.release('b');
    expect(fs.existsSync(path.join(dir, SESSION_FILE))).toBe(false);
  });

  it('gives a token to the plugin on the same port whatever the loopback name, and not to another port', () => {
    const dir = tmp();
    sessionFile(dir, 'http://127.0.0.1:9042').hold('t9042');
    sessionFile(dir, 'http://127.0.0.1:9043').hold('t9043');
    expect(sessionFile(dir, 'http://localhost:9042').load()).toEqual(['t9042']);
    expect(sessionFile(dir, 'http://127.0.0.1:9043').load()).toEqual(['t9043']);
    // Releasing one port's token keeps the other's.
    sessionFile(dir, 'http://localhost:9042').release('t9042');
    expect(sessionFile(dir, 'http://127.0.0.1:9043').load()).toEqual(['t9043']);
  });

  it('reads the one-token file of earlier versions', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, SESSION_FILE), JSON.stringify({ origin: 'http://127.0.0.1:9042', token: 'old' }));
    expect(sessionFile(dir, 'http://127.0.0.1:9042').load()).toEqual(['old']);
  });

  it('forgets tokens past their age and keeps at most OWED_MAX', () => {
    const dir = tmp();
    let now = 1_000_000;
    const store = sessionFile(dir, 'http://127.0.0.1:9042', () => now);
    store.hold('ancient');
    now += OWED_MAX_AGE_MS + 1;
    expect(store.load()).toEqual([]);
    for (let i = 0; i < OWED_MAX + 5; i++) store.hold(`t${i}`);
    const kept = store.load();
    expect(kept).toHaveLength(OWED_MAX);
    expect(kept.at(-1)).toBe(`t${OWED_MAX + 4}`);
    expect(kept).not.toContain('ancient');
  });

  it('a damaged file costs only the cleanup, never an exception', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, SESSION_FILE), '{not json');
    const store = sessionFile(dir, 'http://127.0.0.1:9042');
    expect(store.load()).toEqual([]);
    store.hold('x');
    expect(store.load()).toEqual(['x']);
  });
});
