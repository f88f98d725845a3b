/**
 * `npm run demo`: the whole system on this machine. Starts the iiko plugin
 * simulator (quiet: its request log would bury everything), the EVVA relay and
 * the companion as real processes, pairs the companion with the relay, and
 * prints where to look; the same text goes to BANNER_FILE, so it survives the
 * logs scrolling by. Ctrl+C stops them all. EVVA_DEMO_DIR moves the work folder
 * (tests run the demo in a temp dir).
 * A webhook receiver (scripts/receiver.ts) prints the feed's events as EVVA
 * would get them. The banner also gives the relay's support console
 * (`/console/`, docs/console.md) and the key to sign in with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startReceiver } from './receiver.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.resolve(process.env.EVVA_DEMO_DIR || path.join(root, '.tmp', 'demo'));
/** The banner (API key, curl lines) is also kept here. */
const BANNER_FILE = path.join(work, 'demo.txt');
const children: ChildProcess[] = [];

async function freePort(preferred: number): Promise<number> {
  const tryListen = (port: number) => new Promise<number | null>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  return (await tryListen(preferred)) ?? (await tryListen(0))!;
}

const prefixOf = (name: string, color: number) => `\x1b[${color}m${name.padEnd(9)}\x1b[0m│ `;

function start(name: string, bin: string, args: string[], color: number, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, 'bin', bin), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const prefix = prefixOf(name, color);
  const pipe = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) out.write(`${prefix}${l}\n`);
    });
  };
  pipe(child.stdout!, process.stdout);
  pipe(child.stderr!, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${prefix}остановился (код ${code ?? signal}). Демо завершается.`);
      void stopAll(1);
    }
  });
  children.push(child);
  return child;
}

/** Runs a bin to completion and returns its stdout; throws with its stderr on failure. */
function runOnce(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bin', bin), ...args], { cwd: root });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${bin} ${args[0]}: ${err || out}`))));
  });
}

async function waitFor(url: string, ms = 20_000, headers: Record<string, string> = {}, ok = (status: number) => status < 500): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(url, { headers, signal: AbortSignal.timeout(1_000) });
      await r.text();
      if (ok(r.status)) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} не ответил за ${ms / 1000} с`);
}

let stopping = false;
async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

async function main(): Promise<void> {
  fs.rmSync(work, { recursive: true, force: true });
  const companionDir = path.join(work, 'companion');
  fs.mkdirSync(companionDir, { recursive: true });

  const relayDir = path.join(work, 'relay');
  const simPort = await freePort(9042);
  const relayPort = await freePort(8787);
  const apiPort = await freePort(9142);
  const simUrl = `http://127.0.0.1:${simPort}`;
  const relayUrl = `http://127.0.0.1:${relayPort}`;
  const apiKey = `demo-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

  start('sim', 'evva-sim.js', ['--port', String(simPort), '--seed', '1', '--speed', '10', '--quiet'], 36);
  // EVVA's end of the feed: signed webhooks from the relay, printed as they arrive.
  const webhookSecret = randomBytes(24).toString('base64url');
  const receiver = await startReceiver({ secret: webhookSecret, print: (l) => process.stdout.write(`${prefixOf('вебхук', 32)}${l}\n`) });
  start('relay', 'evva-relay.js', ['serve', '--port', String(relayPort), '--data-dir', relayDir, '--api-key', apiKey, '--webhook-url', receiver.url], 35,
    { EVVA_RELAY_WEBHOOK_SECRET: webhookSecret });
  await waitFor(simUrl);
  await waitFor(`${relayUrl}/healthz`);

  // What EVVA does for a new venue, then what the sysadmin does with the code.
  const venue = JSON.parse(await runOnce('evva-relay.js', ['venue', 'add', 'Демо-ресторан', '--json', '--data-dir', relayDir])) as { venueId: string; pairingCode: string };
  await runOnce('evva-companion.js', ['pair', venue.pairingCode, '--relay-url', relayUrl, '--data-dir', companionDir]);

  start('companion', 'evva-companion.js', ['run', '--data-dir', companionDir, '--front-url', simUrl, '--api-port', String(apiPort)], 33);
  const apiFile = path.join(companionDir, 'local-api.json');
  const until = Date.now() + 20_000;
  while (!fs.existsSync(apiFile) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  const { url: apiUrl, token } = JSON.parse(fs.readFileSync(apiFile, 'utf8')) as { url: string; token: string };

  await waitFor(`${relayUrl}/v1/venues/${venue.venueId}/front/api/tables`, 20_000, { authorization: `Bearer ${apiKey}` }, (s) => s === 200);

  // A one-time link that opens the companion's UI in a browser (sets the cookie, then forgets the link).
  const login = await fetch(`${apiUrl}/api/login-link`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const { url: loginUrl } = await login.json() as { url: string };
  const rel = (p: string) => path.relative(root, p);
  const banner = `
EVVA Companion: демо запущено (Ctrl+C, чтобы остановить). Эта памятка сохранена в ${rel(BANNER_FILE)}
Команды ниже выполняйте во втором окне терминала: в этом идут журналы демо.

  Симулятор плагина iiko:  ${simUrl}  (страница плагина; пульт: ${simUrl}/_sim/state)
  Сервер EVVA (relay):     ${relayUrl}  (ключ API: ${apiKey})
  Заведение:               ${venue.venueId}, привязано по коду ${venue.pairingCode}
  Компаньон, локальный API: ${apiUrl}
  Приёмник вебхуков EVVA:  ${receiver.url}  (строки «вебхук» ниже: события заказов, персонала, столов, платежей)

  \x1b[1mИнтерфейс компаньона\x1b[0m (откройте в браузере; ссылка действует один раз, 10 минут):
    ${loginUrl}
    Новая ссылка: npx evva-companion login --data-dir ${path.relative(root, companionDir)}

  \x1b[1mКонсоль поддержки EVVA\x1b[0m (все заведения, диагностика, журналы; войдите ключом API выше):
    ${relayUrl}/console/

  Заказы заведения через туннель, как их видит EVVA (без проброса портов):
    curl -s -H 'Authorization: Bearer ${apiKey}' '${relayUrl}/v1/venues/${venue.venueId}/front/api/orders?$top=3&$orderby=Number%20desc'

  Заведение глазами EVVA (онлайн, версия компаньона, состояние плагина):
    curl -s -H 'Authorization: Bearer ${apiKey}' ${relayUrl}/v1/venues/${venue.venueId}

  Состояние компаньона:
    npx evva-companion status --data-dir ${rel(companionDir)}
    curl -s -H 'Authorization: Bearer ${token}' ${apiUrl}/api/status

  События заведения постранично, как их может забрать EVVA:
    curl -s -H 'Authorization: Bearer ${apiKey}' '${relayUrl}/v1/venues/${venue.venueId}/events?after=0&limit=5'

  Остановить плагин и посмотреть, как компаньон это покажет:
    curl -s -X POST ${simUrl}/_sim/stop -H 'content-type: application/json' -d '{"forMs":15000}'
`;
  fs.writeFileSync(BANNER_FILE, banner.trimStart(), { mode: 0o600 }); // it holds the API key
  console.log(banner.replace(/^\n(EVVA Companion: демо запущено)/, '\n\x1b[1m$1\x1b[0m'));
}

main().catch((e) => {
  console.error(`Демо не запустилось: ${(e as Error).message}`);
  void stopAll(1);
});
