/**
 * The core inside the desktop app: runs in an Electron utilityProcess (Node,
 * no Electron API needed), starts the same agent `evva-companion run` starts,
 * and talks to the shell over the parent port: it sends `ready`, every live
 * message (status, activity), and takes `stop` and `reconnect`.
 */
import { parseArgs } from 'node:util';
import { startAgent } from '../core/agent.ts';
import { ensureWritableDir } from '../core/files.ts';
import { createLog } from '../core/log.ts';
import { loadSettings } from '../core/settings.ts';
import { remoteSealer } from './secrets.ts';

interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

/** How often the tray's numbers (plugin latency, tunnel round trip) are refreshed. */
const TOOLTIP_REFRESH_MS = 15_000;

const port = (process as unknown as { parentPort?: ParentPort }).parentPort;
if (!port) throw new Error('desktop-core runs only inside the desktop app (utilityProcess)');

const { values } = parseArgs({ args: process.argv.slice(2), options: { 'data-dir': { type: 'string' } }, strict: false });
const settings = loadSettings({ dataDir: typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined });
ensureWritableDir(settings.dataDir);
const log = createLog({ dataDir: settings.dataDir, level: settings.logLevel, console: false });
process.on('unhandledRejection', (e) => log.error('unhandled rejection', { error: e }));

// The device token is sealed by the shell (safeStorage); answers to our requests arrive on the same port.
const sealer = remoteSealer((m) => port.postMessage(m));
port.on('message', ({ data }) => sealer.receive(data));

try {
  const agent = await startAgent({ settings, logger: log, sealer, onLive: (m) => port.postMessage(m) });
  port.postMessage({ type: 'ready', url: agent.api.url, token: agent.api.token, dataDir: settings.dataDir });
  port.postMessage({ type: 'status', status: agent.status() });
  // Live pushes skip latency-only changes; the tray's tooltip shows the numbers, so refresh it now and then.
  setInterval(() => port.postMessage({ type: 'status', status: agent.status() }), TOOLTIP_REFRESH_MS).unref();
  port.on('message', ({ data }) => {
    const type = (data as { type?: unknown } | null)?.type;
    if (type === 'reconnect') void agent.reconnect().catch((e: Error) => log.warn('reconnect failed', { error: e.message }));
    if (type === 'stop') void agent.stop().then(() => log.close()).then(() => process.exit(0));
  });
} catch (e) {
  // Port taken, data dir broken…: say it to the shell in Russian, then exit (the shell shows it and retries).
  port.postMessage({ type: 'failed', message: (e as Error).message });
  log.error((e as Error).message);
  await log.close();
  process.exit(1);
}
