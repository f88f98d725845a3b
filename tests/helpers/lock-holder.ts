/**
 * A separate process for the lock tests: `hold DIR` takes the data dir and
 * keeps it (prints `held PID`) until killed; `try DIR` tries once and prints
 * the outcome as JSON, then exits.
 */
import { DataDirLocked, lockDataDir } from '../../main/core/lock.ts';

const [mode, dir] = process.argv.slice(2);
if (!dir || (mode !== 'hold' && mode !== 'try')) throw new Error('usage: lock-holder.ts hold|try DIR');
try {
  const lock = await lockDataDir(dir);
  if (mode === 'hold') {
    console.log(`held ${process.pid}`);
    setInterval(() => undefined, 60_000);
  } else {
    lock.release();
    console.log(JSON.stringify({ ok: true }));
  }
} catch (e) {
  console.log(JSON.stringify({ ok: false, locked: e instanceof DataDirLocked, pid: (e as DataDirLocked).pid ?? null, message: (e as Error).message }));
}
