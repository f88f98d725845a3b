/**
 * `npm run demo`: the whole system on this machine. Starts the iiko plugin
 * simulator (quiet: its request log would bury everything), the EVVA relay and
 * the companion as real processes, pairs the companion with the relay, and
 * prints where to look; the same text goes to BANNER_FILE, so it survives the
 * logs scrolling by. Ctrl+C stops them all. EVVA_DEMO_DIR moves the work folder
 * (tests run the demo in a temp dir).
 * A webhook receiver (scripts/receiver.ts) prints the feed's events as EVVA
 * would get them and keeps each one in webhooks.jsonl. `npm run demo -- --iiko-cloud`
 * (or EVVA_DEMO_WEBHOOK_FORMAT=iiko-cloud) runs it in iiko Cloud's webhook
 * format instead, as EVVA's Cloud handler would get the events: the relay sends
 * that format with an authToken, and the venue is added with an iiko
 * organization id.
 * The banner also gives the relay's support console
 * (`/console/`, docs/console.md) and the key to sign in with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startReceiver } from './receiver.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.resolve(process.env.EVVA_DEMO_DIR || path.join(root, '.tmp', 'demo'));
/** The banner (API key, curl lines) is also kept here. */
const BANNER_FILE = path.join(work, 'demo.txt');
/** Every event the receiver took, one JSON per line. */
const EVENTS_FILE = path.join(work, 'webhooks.jsonl');
const CLOUD = process.argv.includes('--iiko-cloud') || process.env.EVVA_DEMO_WEBHOOK_FORMAT === 'iiko-cloud';
/** The running demo's process id: a second demo in the same folder must not wipe the first one's data. */
const PID_FILE = path.join(work, 'demo.pid');
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

function start(name: string, bin: string, args: string[], color: number, env: NodeJS.ProcessEnv = {}, onLine?: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, 'bin', bin), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const prefix = prefixOf(name, color);
  const pipe = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        out.write(`${prefix}${l}\n`);
        onLine?.(l);
      }
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
  // The last answer goes into the error: "502 … unlicensed" says what to do, "did not answer" alone does not.
  let last = 'ни одного ответа';
  while (Date.now() < until) {
    try {
      const r = await fetch(url, { headers, signal: AbortSignal.timeout(1_000) });
      const body = await r.text();
      if (ok(r.status)) return;
      last = `последний ответ ${r.status}: ${body.slice(0, 300)}`;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} не ответил как ждали за ${ms / 1000} с (${last})`);
}

let stopping = false;
async function stopAll(code: number): Promise<never> {
  stopping = true;
  try {
    if (fs.readFileSync(PID_FILE, 'utf8').trim() === String(process.pid)) fs.rmSync(PID_FILE, { force: true });
  } catch {
    // Never written (a refused second demo) or already gone.
  }
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

/** The pid of a demo (or its companion) still running in `work`, if any. */
function runningDemo(): number | null {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  for (const file of [PID_FILE, path.join(work, 'companion', 'companion.lock')]) {
    try {
      const pid = Number(/\d+/.exec(fs.readFileSync(file, 'utf8'))?.[0]);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return pid;
    } catch {
      // No such file: nothing running from it.
    }
  }
  return null;
}

async function main(): Promise<void> {
  // Another demo in this folder is still relaying: leave its data alone and say how to run a second one.
  const other = runningDemo();
  if (other !== null) {
    const rel = path.relative(root, work) || '.';
    console.error(`Демо уже запущено из папки ${rel} (процесс ${other}); его данные не тронуты.
Остановите его (Ctrl+C в его окне) и запустите снова, или запустите второе демо в другой папке:
  EVVA_DEMO_DIR=${rel}-2 npm run demo`);
    process.exit(1);
  }
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(PID_FILE, `${process.pid}\n`);
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
  // EVVA's end of the feed: webhooks from the relay (signed, or in iiko Cloud's format with its token), printed as they arrive.
  const webhookSecret = randomBytes(24).toString('base64url');
  const authToken = randomBytes(24).toString('base64url');
  const receiver = await startReceiver({
    format: CLOUD ? 'iiko-cloud' : 'evva', ...(CLOUD ? { authToken } : { secret: webhookSecret }),
    print: (l) => process.stdout.write(`${prefixOf('вебхук', 32)}${l}\n`),
    save: (e) => fs.appendFileSync(EVENTS_FILE, `${JSON.stringify(e)}\n`, { mode: 0o600 }),
  });
  start('relay', 'evva-relay.js', ['serve', '--port', String(relayPort), '--data-dir', relayDir, '--api-key', apiKey, '--webhook-url', receiver.url, '--allow-loopback-webhooks',
    ...(CLOUD ? ['--webhook-format', 'iiko-cloud'] : [])], 35,
  CLOUD ? { EVVA_RELAY_WEBHOOK_AUTH_TOKEN: authToken, EVVA_RELAY_WEBHOOK_SECRET: '' } : { EVVA_RELAY_WEBHOOK_SECRET: webhookSecret });
  await waitFor(simUrl);
  await waitFor(`${relayUrl}/healthz`);

  // What EVVA does for a new venue, then what the sysadmin does with the code.
  // The iiko Cloud format names the venue's iiko organization in every event; the demo makes one up.
  const venue = JSON.parse(await runOnce('evva-relay.js', ['venue', 'add', 'Демо-ресторан', '--json', '--data-dir', relayDir,
    ...(CLOUD ? ['--iiko-organization-id', randomUUID()] : [])])) as { venueId: string; pairingCode: string; iikoOrganizationId?: string };
  await runOnce('evva-companion.js', ['pair', venue.pairingCode, '--relay-url', relayUrl, '--data-dir', companionDir]);

  // The link the companion prints is the one the banner repeats: one link, not two that look alike.
  let printedLink: string | null = null;
  start('companion', 'evva-companion.js', ['run', '--data-dir', companionDir, '--front-url', simUrl, '--api-port', String(apiPort)], 33, {},
    (line) => { printedLink ??= /(http:\/\/\S+\/login\?once=\S+)/.exec(line)?.[1] ?? null; });
  const apiFile = path.join(companionDir, 'local-api.json');
  const until = Date.now() + 20_000;
  while (!fs.existsSync(apiFile) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  const { url: apiUrl, token } = JSON.parse(fs.readFileSync(apiFile, 'utf8')) as { url: string; token: string };

  await waitFor(`${relayUrl}/v1/venues/${venue.venueId}/front/api/tables`, 20_000, { authorization: `Bearer ${apiKey}` }, (s) => s === 200);

  // The one-time link the companion printed when it started (it opens the UI and starts a browser session).
  const linkUntil = Date.now() + 10_000;
  while (!printedLink && Date.now() < linkUntil) await new Promise((r) => setTimeout(r, 100));
  if (!printedLink) throw new Error('компаньон не напечатал ссылку для входа');
  const loginUrl: string = printedLink;
  const rel = (p: string) => path.relative(root, p);
  const banner = `
EVVA Companion: демо запущено (Ctrl+C, чтобы остановить). Эта памятка сохранена в ${rel(BANNER_FILE)}
Команды ниже выполняйте во втором окне терминала: в этом идут журналы демо.

  Симулятор плагина iiko:  ${simUrl}  (страница плагина; пульт: ${simUrl}/_sim/state)
  Сервер EVVA (relay):     ${relayUrl}  (ключ API: ${apiKey})
  Заведение:               ${venue.venueId}, привязано по коду ${venue.pairingCode}
  Компаньон, локальный API: ${apiUrl}
  Приёмник вебхуков EVVA:  ${receiver.url}  (строки «вебхук» ниже: события заказов, персонала, столов, платежей)
  Формат вебхуков:         ${CLOUD ? `iiko Cloud (организация iiko ${venue.iikoOrganizationId}, токен в заголовке Authorization)` : 'EVVA (подпись X-Evva-Signature); формат iiko Cloud: npm run demo -- --iiko-cloud'}
  Полученные события:      ${rel(EVENTS_FILE)} (по одному JSON в строке)

  \x1b[1mИнтерфейс компаньона\x1b[0m (откройте в браузере; это ссылка, которую компаньон напечатал выше; она действует один раз, 10 минут,
  а браузер после входа остаётся в интерфейсе и после перезапуска компаньона):
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
