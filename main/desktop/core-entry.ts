/**
 * The core inside the desktop app: runs in an Electron utilityProcess (Node,
 * no Electron API needed), starts the same agent `evva-companion run` starts,
 * and talks to the shell over the parent port: it sends `ready` (the local
 * API's address), `failed` (why it could not start), seal requests, and takes
 * `stop` and `reconnect`. Everything else (status, payments) the shell reads
 * from the local API, as any other tray or browser does.
 */
import { parseArgs } from 'node:util';
import { startAgent, type Agent } from '../core/agent.ts';
import { ensureWritableDir } from '../core/files.ts';
import { DataDirLocked } from '../core/lock.ts';
import { createLog } from '../core/log.ts';
import { loadSettings } from '../core/settings.ts';
import { remoteSealer } from './secrets.ts';

interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

/**
 * The longest a stop may take before the process leaves anyway. A session end
 * gives the whole app about 5 s (Windows' hung-app timeout) before Windows
 * offers to close it; the shell waits up to STOP_WAIT_MS for this process.
 */
const STOP_DEADLINE_MS = 3_500;

const port = (process as unknown as { parentPort?: ParentPort }).parentPort;
if (!port) throw new Error('desktop-core runs only inside the desktop app (utilityProcess)');

const { values } = parseArgs({ args: process.argv.slice(2), options: { 'data-dir': { type: 'string' }, seal: { type: 'boolean' } }, strict: false });

/** Why the core could not start, for the shell to decide what to do (see core.ts). */
function kindOf(e: unknown): 'locked' | 'port' | 'disk' | 'other' {
  if (e instanceof DataDirLocked) return 'locked';
  const code = (e as NodeJS.ErrnoException).code ?? ((e as { cause?: NodeJS.ErrnoException }).cause)?.code;
  if (code === 'EADDRINUSE') return 'port';
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC') return 'disk';
  return 'other';
}

let starting: Promise<Agent | null> = Promise.resolve(null);
let log: ReturnType<typeof createLog> | null = null;
let stopping: Promise<void> | null = null;
const stop = () => {
  stopping ??= (async () => {
    // Leave by the deadline whatever the parts do: Windows will not wait longer for the session to end.
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref();
    // A stop during start-up waits for the start, so the plugin session and the lock are let go cleanly.
    const agent = await starting;
    await agent?.stop();
    await log?.close();
    process.exit(0);
  })();
  return stopping;
};

try {
  const settings = loadSettings({ dataDir: typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined });
  ensureWritableDir(settings.dataDir);
  log = createLog({ dataDir: settings.dataDir, level: settings.logLevel, console: false });
  const logger = log;
  process.on('unhandledRejection', (e) => logger.error('unhandled rejection', { error: e }));

  // With --seal the device token is sealed by the shell (safeStorage); answers come on the same port.
  // Without it (Windows: the data is the whole PC's, and safeStorage's key is one user's) the file is kept by its folder's ACL.
  const sealer = values.seal === true ? remoteSealer((m) => port.postMessage(m)) : undefined;
  port.on('message', ({ data }) => {
    sealer?.receive(data);
    const type = (data as { type?: unknown } | null)?.type;
    if (type === 'stop') void stop();
    if (type === 'reconnect') void starting.then((a) => a?.reconnect()).catch((e: Error) => logger.warn('reconnect failed', { error: e.message }));
  });

  const started = startAgent({ settings, logger, ...(sealer ? { sealer } : {}) });
  starting = started.catch(() => null);
  const agent = await started;
  if (stopping) await stopping;
  port.postMessage({ type: 'ready', url: agent.api.url, token: agent.api.token, dataDir: settings.dataDir, pid: process.pid });
} catch (e) {
  // Held by another session's companion, port taken, data dir broken…: say which to the shell, then exit.
  const message = (e as Error).message;
  port.postMessage({ type: 'failed', kind: kindOf(e), message });
  log?.error(message);
  await log?.close();
  process.exit(3);
}
