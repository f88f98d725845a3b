/** Private files are written durably and leave nothing behind on failure. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RENAME_RETRY_MS, writePrivateFile } from '../../../main/core/files.ts';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
/** Runs `fn` with process.platform reading `platform` (Node reads it at call time in files.ts). */
function on<T>(platform: NodeJS.Platform, fn: () => T): T {
  const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
  Object.defineProperty(process, 'platform', { ...real, value: platform });
  try {
    return fn();
  } finally {
    Object.defineProperty(process, 'platform', real);
  }
}
/** renameSync that fails `times` times with `code` (a scanner holding the target), then renames for real. */
function heldFor(times: number, code = 'EPERM') {
  const real = fs.renameSync;
  let failed = 0;
  vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
    if (failed < times) { failed += 1; throw Object.assign(new Error(`${code}: operation not permitted, rename`), { code }); }
    real(from, to);
  });
  return () => failed;
}
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-files-')); dirs.push(d); return d; };

describe('writePrivateFile', () => {
  it('fsyncs the file before the rename and its folder after, and leaves it 0600', () => {
    const dir = tmp();
    const file = path.join(dir, 'device.json');
    const synced: string[] = [];
    const real = fs.fsyncSync;
    vi.spyOn(fs, 'fsyncSync').mockImplementation((fd) => {
      const st = fs.fstatSync(fd);
      synced.push(st.isDirectory() ? 'dir' : fs.existsSync(file) ? 'file-after-rename' : 'file');
      real(fd);
    });
    const old = process.umask(0o022);
    try {
      writePrivateFile(file, '{"a":1}\n');
    } finally {
      process.umask(old);
    }
    expect(synced).toEqual(['file', 'dir']);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"a":1}\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('removes its .tmp when the write fails, and keeps the old file', () => {
    const dir = tmp();
    const file = path.join(dir, 'device.json');
    writePrivateFile(file, 'old');
    vi.spyOn(fs, 'renameSync').mockImplementation(() => { throw Object.assign(new Error('disk full'), { code: 'ENOSPC' }); });
    expect(() => writePrivateFile(file, 'new')).toThrow(/disk full/);
    expect(fs.readdirSync(dir)).toEqual(['device.json']);
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
  });
});

describe('writePrivateFile under an antivirus', () => {
  it('on Windows, waits while another program holds the target (EPERM, EACCES, EBUSY) and then writes', () => {
    for (const code of ['EPERM', 'EACCES', 'EBUSY']) {
      const dir = tmp();
      const file = path.join(dir, 'device.json');
      writePrivateFile(file, 'old');
      const failed = heldFor(3, code);
      const waits: number[] = [];
      on('win32', () => writePrivateFile(file, 'new', (ms) => waits.push(ms)));
      expect(failed()).toBe(3);
      expect(waits).toEqual(RENAME_RETRY_MS.slice(0, 3));
      expect(fs.readFileSync(file, 'utf8')).toBe('new');
      expect(fs.readdirSync(dir)).toEqual(['device.json']);
      vi.restoreAllMocks();
    }
  });

  it('gives up after about 4 s of waiting with a Russian message naming the cause, keeping the old file and the code', () => {
    const dir = tmp();
    const file = path.join(dir, 'settings.json');
    writePrivateFile(file, 'old');
    heldFor(1_000);
    const waits: number[] = [];
    let error: NodeJS.ErrnoException | null = null;
    try {
      on('win32', () => writePrivateFile(file, 'new', (ms) => waits.push(ms)));
    } catch (e) {
      error = e as NodeJS.ErrnoException;
    }
    expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4_000);
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5_000);
    expect(error?.code).toBe('EPERM');
    expect(error?.message).toMatch(/держит другая программа.*антивирус/s);
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(fs.readdirSync(dir)).toEqual(['settings.json']);
  });

  it('elsewhere fails at once: there EPERM is a real permission problem that waiting cannot fix', () => {
    const dir = tmp();
    const file = path.join(dir, 'device.json');
    heldFor(1);
    const waits: number[] = [];
    expect(() => on('linux', () => writePrivateFile(file, 'new', (ms) => waits.push(ms)))).toThrow(/EPERM/);
    expect(waits).toEqual([]);
  });
});
