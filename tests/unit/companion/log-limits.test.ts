/**
 * The logs: a full disk does not end the process, a
 * flood of one line does not fill the disk, the folder has a total cap, and
 * logs are the owner's only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLog, pruneLogs } from '../../../main/core/log.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-logs-')); dirs.push(d); return d; };
const today = () => { const d = new Date(); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`; };
const logFiles = (dir: string) => fs.readdirSync(path.join(dir, 'logs')).filter((f) => f.startsWith('companion-'));
const totalBytes = (dir: string) => logFiles(dir).reduce((n, f) => n + fs.statSync(path.join(dir, 'logs', f)).size, 0);

describe('a log file that cannot be written', () => {
  it('keeps the process running, logs to the console only, and says why in Russian', async () => {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'logs'));
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    fs.symlinkSync('/dev/full', path.join(dir, 'logs', `companion-${today()}.log`));
    const log = createLog({ dataDir: dir, level: 'info', console: false });
    const told: string[] = [];
    log.onFileProblem((p) => told.push(p.code));
    for (let i = 0; i < 50; i++) log.info(`line ${i}`);
    for (let i = 0; i < 50 && !log.fileProblem(); i++) await new Promise((r) => setTimeout(r, 20));
    const p = log.fileProblem();
    expect(p?.code).toBe('log_file_failed');
    expect(p?.message).toMatch(/нет места.*ENOSPC.*работает/);
    expect(told).toEqual(['log_file_failed']);
    log.warn('still logging after the failure');
    await log.close();
  });
});

describe('repeated lines', () => {
  it('writes a flood of one line only a few times a window, then once more with the count', async () => {
    const dir = tmp();
    let now = 0;
    const log = createLog({ dataDir: dir, level: 'info', console: false, repeats: { now: () => now, windowMs: 60_000, burst: 10 } });
    const gate = log.child({ part: 'tunnel' });
    for (let i = 0; i < 20_000; i++) gate.warn('tunnel request refused by the gate', { path: `/api/x${i}` });
    log.info('a different line gets through');
    now += 60_000;
    gate.warn('tunnel request refused by the gate', { path: '/api/last' });
    await log.close();
    const lines = fs.readFileSync(path.join(dir, 'logs', logFiles(dir)[0]!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const refused = lines.filter((l) => l.message === 'tunnel request refused by the gate');
    expect(refused).toHaveLength(11);
    expect(refused[10]).toMatchObject({ path: '/api/last', repeated: 19_990 });
    expect(lines.some((l) => l.message === 'a different line gets through')).toBe(true);
    expect(totalBytes(dir)).toBeLessThan(10_000);
  });
});

describe('the logs folder', () => {
  it('stays under its total cap as files rotate, oldest first', async () => {
    const dir = tmp();
    const log = createLog({ dataDir: dir, level: 'info', console: false, maxFileSize: '10k', maxTotalBytes: 40 * 1024 });
    const pad = 'x'.repeat(200);
    // Written over about a second, as a flood is, not all in one tick.
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 0; i < 100; i++) log.info(`distinct line ${batch * 100 + i} ${pad}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 800));
    expect(logFiles(dir).length).toBeGreaterThan(1);
    // While it runs: the cap, plus the file being written since the last pruning.
    expect(totalBytes(dir)).toBeLessThanOrEqual(40 * 1024 + 24 * 1024);
    await log.close();
    expect(totalBytes(dir)).toBeLessThanOrEqual(40 * 1024 + 12 * 1024);
    const text = logFiles(dir).map((f) => fs.readFileSync(path.join(dir, 'logs', f), 'utf8')).join('');
    expect(text).toContain('distinct line 1999');
    expect(text).not.toContain('distinct line 0 ');
  });

  it('prunes the oldest files first and never the one named to keep', () => {
    const dir = tmp();
    const write = (name: string, bytes: number, age: number) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, Buffer.alloc(bytes));
      const t = new Date(Date.now() - age * 1000);
      fs.utimesSync(f, t, t);
    };
    write('companion-2026-01-01.log', 500, 300);
    write('companion-2026-01-02.log', 500, 200);
    write('companion-2026-01-03.log', 500, 100);
    write('other.txt', 5_000, 400);
    pruneLogs(dir, 1_000, path.join(dir, 'companion-2026-01-03.log'));
    expect(fs.readdirSync(dir).sort()).toEqual(['companion-2026-01-02.log', 'companion-2026-01-03.log', 'other.txt']);
  });

  it('is the owner\'s only: folder 0700, files 0600', async () => {
    const dir = tmp();
    const old = process.umask(0o022);
    try {
      const log = createLog({ dataDir: dir, level: 'info', console: false });
      log.info('hello');
      await log.close();
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(path.join(dir, 'logs')).mode & 0o777).toBe(0o700);
    for (const f of logFiles(dir)) expect(fs.statSync(path.join(dir, 'logs', f)).mode & 0o777).toBe(0o600);
  });
});
