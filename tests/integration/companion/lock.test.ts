/**
 * The data dir lock: held by the kernel (a named pipe on
 * Windows, an abstract socket on Linux), so neither a reused pid nor a process
 * of another user that answers "access denied" can keep a companion out.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLocked, LOCK_FILE, lockDataDir, lockEndpoint } from '../../../main/core/lock.ts';
import { ROOT } from '../../helpers/proc.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-lock-')); dirs.push(d); return d; };
const holder = (mode: 'hold' | 'try', dir: string, opts: { uid?: number; gid?: number } = {}) => {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tests/helpers/lock-holder.ts'), mode, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return child;
};
async function holdIn(dir: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = holder('hold', dir);
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d; const m = out.match(/held (\d+)/); if (m) resolve(Number(m[1])); });
    child.stderr!.on('data', (d: Buffer) => { out += d; });
    child.on('exit', () => reject(new Error(`holder exited: ${out}`)));
  });
  return { pid, stop: () => new Promise((r) => { child.once('exit', () => r()); child.kill('SIGKILL'); }) };
}
async function tryIn(dir: string, opts: { uid?: number; gid?: number } = {}): Promise<{ ok: boolean; locked?: boolean; pid?: number | null; message?: string }> {
  const child = holder('try', dir, opts);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  await new Promise((r) => child.once('exit', r));
  const line = out.trim().split('\n').at(-1) ?? '';
  try { return JSON.parse(line) as { ok: boolean }; } catch { throw new Error(`lock-holder said: ${out}`); }
}

describe('the data dir lock', () => {
  it('is not blocked by a companion.lock naming a live process that is not a companion (a pid reused after a reboot)', async () => {
    const dir = tmp();
    // process.ppid is alive and is not holding this dir: what a reused pid looks like.
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${JSON.stringify({ pid: process.ppid })}\n`);
    const lock = await lockDataDir(dir);
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses a second holder, naming the first one\'s pid as the first one says it, whatever companion.lock says', async () => {
    const dir = tmp();
    const first = await holdIn(dir);
    fs.writeFileSync(path.join(dir, LOCK_FILE), 'not json');
    const error = await lockDataDir(dir).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DataDirLocked);
    expect((error as DataDirLocked).pid).toBe(first.pid);
    expect((error as Error).message).toContain(`процесс ${first.pid}`);
    // A holder killed with SIGKILL cleans nothing up, and still blocks nobody.
    await first.stop();
    const next = await lockDataDir(dir);
    next.release();
  });

  it('in one process too: a second lock on a held dir is refused, not taken over', async () => {
    const dir = tmp();
    const lock = await lockDataDir(dir);
    await expect(lockDataDir(dir)).rejects.toBeInstanceOf(DataDirLocked);
    lock.release();
    (await lockDataDir(dir)).release();
  });

  it.runIf(process.getuid?.() === 0)('is taken by another Windows-like user even when companion.lock names a process it may not signal (EPERM used to read as alive)', async () => {
    const dir = tmp();
    fs.chmodSync(dir, 0o777);
    // pid 1 belongs to root: `nobody` gets EPERM from process.kill(1, 0), as Windows answers "access denied" for another user's process.
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${JSON.stringify({ pid: 1 })}\n`);
    fs.chmodSync(path.join(dir, LOCK_FILE), 0o666);
    const result = await tryIn(dir, { uid: 65534, gid: 65534 });
    expect(result).toEqual({ ok: true });
  });

  it('names a machine-wide pipe on Windows, the same for any spelling of the folder; an abstract socket on Linux', () => {
    const a = lockEndpoint('C:\\ProgramData\\EVVA Companion', 'win32');
    expect(a).toMatch(/^\\\\\.\\pipe\\evva-companion-[0-9a-f]{32}$/);
    expect(lockEndpoint('c:\\programdata\\evva companion\\', 'win32')).toBe(a);
    expect(lockEndpoint('C:\\ProgramData\\Other', 'win32')).not.toBe(a);
    expect(lockEndpoint('/srv/evva', 'linux')).toMatch(/^\0evva-companion-/);
    expect(lockEndpoint('/srv/evva', 'darwin')).toMatch(/\.sock$/);
  });

  it('where the endpoint is a socket file (macOS), a file left by a killed holder is cleared and taken', async () => {
    const dir = tmp();
    const endpoint = path.join(tmp(), 'lock.sock');
    // A process listening on a socket file, killed with SIGKILL: the file stays, nobody listens.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(endpoint)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => child.stdout!.once('data', r));
    await new Promise((r) => { child.once('exit', r); child.kill('SIGKILL'); });
    expect(fs.existsSync(endpoint)).toBe(true);
    const lock = await lockDataDir(dir, endpoint);
    await expect(lockDataDir(dir, endpoint)).rejects.toBeInstanceOf(DataDirLocked);
    lock.release();
  });
});
