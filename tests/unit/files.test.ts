/** Issue 6 item 14: private files are written durably and leave nothing behind on failure. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { writePrivateFile } from '../../main/core/files.ts';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
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
