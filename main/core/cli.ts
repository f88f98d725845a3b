/**
 * `evva-companion`: the headless companion. `run` starts the agent; `status`
 * asks a running one; `discover` looks for the plugin. Exit codes: 0 done,
 * 1 failed, 2 bad usage, 3 the companion is not running.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EffectiveSettings, LOCAL_API_FILE, LoginLink, Status } from '../../protocol/local.ts';
import { Report } from '../../protocol/diagnostics.ts';
import { askLocal } from './api/ask.ts';
import { verifyCompanion } from './api/proof.ts';
import { runningAgent } from './api/running.ts';
import { ensureWritableDir } from './files.ts';
import {
  effectiveSettings, loadSettings, SETTING_SPECS, SETTINGS_FILE, SettingsError, type SettingSource, type SettingSpec, type SettingsFlags,
} from './settings.ts';
import { VERSION } from '../../common/version.ts';
import { checkExit, describe } from './summary.ts';
import { pairCommand } from './pairing.ts';

const HELP = `EVVA Companion ${VERSION}: связь iikoFront (плагин Front Web API) с EVVA без настройки роутера.

Использование:
  evva-companion run      [--data-dir DIR] [--front-url URL] [--api-port N] [--proxy URL] [--log-level L]
  evva-companion pair КОД --relay-url URL [--data-dir DIR] [--proxy URL]
  evva-companion status   [--data-dir DIR] [--json] [--check]
  evva-companion settings [--data-dir DIR] [--json]
  evva-companion discover [--json]
  evva-companion diagnose [--data-dir DIR] [--json]
  evva-companion login    [--data-dir DIR]
  evva-companion help | --help | --version

Команды:
  run        запустить компаньон (проверка плагина, связь с EVVA, локальный API на 127.0.0.1:9142)
  pair КОД   привязать компаньон к заведению в EVVA по коду (код выдаёт EVVA, действует 15 минут)
  status     показать состояние запущенного компаньона
  settings   показать действующие настройки и откуда взято каждое значение
  login      выдать новую ссылку для входа в интерфейс (браузер на этом компьютере)
  discover   найти плагин Front Web API на этом компьютере
  diagnose   проверить всё, что нужно EVVA (плагин, связь, проброс порта, сотрудники, столы, тип оплаты EVVAP,
             меню, компьютер); код выхода 1, если хоть одна проверка не пройдена

Параметры:
  --data-dir DIR     папка данных (или EVVA_DATA_DIR); там settings.json, журналы, local-api.json
  --front-url URL    адрес плагина, например http://127.0.0.1:9042 (или EVVA_FRONT_URL); без него плагин ищется сам
  --api-port N       порт локального API (или EVVA_API_PORT), по умолчанию 9142
  --relay-url URL    адрес сервера EVVA для привязки (или EVVA_RELAY_URL), например https://relay.example
  --proxy URL        HTTP-прокси для связи с EVVA (иначе HTTPS_PROXY/NO_PROXY), например http://proxy:3128
  --allow-insecure   разрешить незашифрованное соединение (ws://) с сервером не на этом компьютере
  --log-level L      error | warn | info | debug
  --json             вывод в JSON (для скриптов и поддержки)
  --check            (для status) код выхода как у проверок Nagios: 0 всё в порядке, 1 требует внимания, 2 есть проблема, 3 компаньон не запущен

Коды выхода: 0 готово, 1 ошибка (у diagnose: есть непройденная проверка), 2 неверные параметры, 3 компаньон не запущен.
Все настройки (settings.json, переменные окружения, параметры): docs/settings.md.`;

class UsageError extends Error {}

const FLAGS = {
  'data-dir': { type: 'string' },
  'front-url': { type: 'string' },
  'api-port': { type: 'string' },
  'log-level': { type: 'string' },
  'relay-url': { type: 'string' },
  proxy: { type: 'string' },
  'allow-insecure': { type: 'boolean' },
  json: { type: 'boolean' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/** Runs one CLI invocation and resolves to its exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (e) {
    return usage(await translateParseError(e as Error));
  }
  const { values, positionals } = parsed;
  if (values.version) { console.log(VERSION); return 0; }
  const [command, ...rest] = positionals;
  if (values.help || !command || command === 'help') { console.log(HELP); return command || values.help ? 0 : 2; }
  if (command === 'version') { console.log(VERSION); return 0; }
  const args = command === 'pair' ? rest.slice(1) : rest;
  if (args.length) return usage(`Лишние аргументы: ${args.join(' ')}`);
  const flags: SettingsFlags = {
    dataDir: values['data-dir'], frontUrl: values['front-url'], apiPort: values['api-port'], logLevel: values['log-level'],
    relayUrl: values['relay-url'], proxy: values.proxy, allowInsecure: values['allow-insecure'],
  };
  warnProxyPassword(values.proxy);
  try {
    switch (command) {
      case 'run': return await run(flags);
      case 'status': return await status(flags, values.json ?? false, values.check ?? false);
      case 'discover': return await find(values.json ?? false);
      case 'diagnose': return await diagnoseCommand(flags, values.json ?? false);
      case 'settings': return await showSettings(flags, values.json ?? false);
      case 'login': return await login(flags);
      case 'pair': {
        if (!rest[0]) return usage('Укажите код привязки: evva-companion pair K7QF-2MXD --relay-url https://…');
        return await pairCommand(flags, rest[0]);
      }
      default: return usage(`Неизвестная команда «${command}».`);
    }
  } catch (e) {
    if (e instanceof SettingsError || e instanceof UsageError) return usage(e.message);
    console.error(`Ошибка: ${(e as Error).message}`);
    return 1;
  }
}

/**
 * A password in --proxy is visible to every user of the PC in the process list
 * (Task Manager, ps). It still works; the warning says where it belongs instead.
 */
export function proxyPasswordWarning(proxy: string | undefined): string | null {
  if (!proxy) return null;
  let hasPassword: boolean;
  try {
    hasPassword = new URL(proxy).password !== '';
  } catch {
    hasPassword = /\/\/[^/@]*:[^/@]*@/.test(proxy);
  }
  return hasPassword
    ? 'Внимание: пароль прокси в параметре --proxy виден всем пользователям этого компьютера в списке процессов. '
      + 'Задайте прокси в переменной окружения EVVA_PROXY (или HTTPS_PROXY) или в поле proxy файла settings.json в папке данных, а не в командной строке.'
    : null;
}

function warnProxyPassword(proxy: string | undefined): void {
  const warning = proxyPasswordWarning(proxy);
  if (warning) console.error(warning);
}

function usage(message: string): number {
  console.error(`${message}\nСправка: evva-companion --help`);
  return 2;
}

/** Loaded only on a usage error: the bundler groups messages.ts with the plugin client (undici), which `status` must not load. */
async function translateParseError(e: Error): Promise<string> {
  const { parseErrorText } = await import('./messages.ts');
  return parseErrorText(e.message);
}

async function run(flags: SettingsFlags): Promise<number> {
  // Before the agent's modules load: compiling them is what first grows the young generation.
  const { keepHeapSmall } = await import('../../common/heap.ts');
  keepHeapSmall();
  const settings = loadSettings(flags);
  ensureWritableDir(settings.dataDir);
  // Heavy parts load only for the commands that use them, so `status` starts fast (global fetch, no winston or undici).
  const { createLog } = await import('./log.ts');
  const log = createLog({ dataDir: settings.dataDir, level: settings.logLevel, console: true });
  process.on('unhandledRejection', (e) => log.error('unhandled rejection', { error: e }));
  // Listen for the stop signals before starting: a SIGTERM during start-up still stops cleanly.
  let code = 0;
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => { log.info(`${signal} received, stopping`); resolve(); };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // Windows consoles (Node's "Signal events"): closing the window is SIGHUP, and Windows ends the
    // process about 10 s later; Ctrl+Break is SIGBREAK. Elsewhere SIGHUP is the terminal going away.
    process.once('SIGHUP', () => stop('SIGHUP'));
    process.once('SIGBREAK', () => stop('SIGBREAK'));
    // A bug must not skip the plugin logout or leave local-api.json behind: stop as on a signal, then exit 1.
    process.once('uncaughtException', (e) => { log.error('unexpected error, stopping', { error: e }); code = 1; resolve(); });
  });
  let agent;
  try {
    // Loaded here, not at the top: `status` and `pair` then start without the agent's dependencies.
    const { startAgent } = await import('./agent.ts');
    const ports = discoveryPortsFromEnv(process.env);
    const probe = ports ? { discover: await import('./front/discovery.ts').then(({ discover }) => () => discover({ ports })) } : undefined;
    const fastProbe = probeIntervalFromEnv(process.env);
    if (fastProbe) settings.probeIntervalSec = fastProbe / 1000;
    agent = await startAgent({ settings, logger: log, logs: log, ...(probe ? { probe } : {}) });
  } catch (e) {
    log.error((e as Error).message);
    await log.close();
    return 1;
  }
  console.log(`Компаньон запущен. Локальный API: ${agent.api.url} (токен в ${path.join(settings.dataDir, LOCAL_API_FILE)})`);
  console.log(`Состояние: evva-companion status --data-dir "${settings.dataDir}"`);
  console.log(`Открыть интерфейс в браузере (ссылка действует один раз, 10 минут): ${agent.loginLink().url}`);
  await stopped;
  await agent.stop();
  await log.close();
  return code;
}

/**
 * A test-only hook: with both
 * `EVVA_TEST_HOOKS=1` and `EVVA_TEST_DISCOVERY_PORTS=9051,9052`, discovery tries
 * these ports on 127.0.0.1 instead of the usual ones, so a test of discovery with
 * real processes does not need port 9042 free on a shared machine.
 */
export function discoveryPortsFromEnv(env: NodeJS.ProcessEnv): number[] | null {
  const list = env.EVVA_TEST_DISCOVERY_PORTS;
  if (env.EVVA_TEST_HOOKS !== '1' || !list) return null;
  const ports = list.split(',').map((p) => Number(p.trim()));
  return ports.length && ports.every((p) => Number.isInteger(p) && p > 0 && p < 65536) ? ports : null;
}

/**
 * A test-only hook, like the two above: with both `EVVA_TEST_HOOKS=1` and
 * `EVVA_TEST_PROBE_INTERVAL_MS=200`, the plugin is checked this often (100…999 ms),
 * below the 1 s the settings allow, so a test of ten plugin outages with real
 * processes takes seconds per outage less. Nothing else about the checks changes.
 */
export function probeIntervalFromEnv(env: NodeJS.ProcessEnv): number | null {
  const ms = Number(env.EVVA_TEST_PROBE_INTERVAL_MS);
  if (env.EVVA_TEST_HOOKS !== '1' || !env.EVVA_TEST_PROBE_INTERVAL_MS || !Number.isInteger(ms) || ms < 100 || ms > 999) return null;
  return ms;
}

/** Asks the running companion for a one-time login link and prints it. */
async function login(flags: SettingsFlags): Promise<number> {
  const settings = loadSettings(flags);
  const info = runningAgent(settings.dataDir);
  const notRunning = () => { console.error(`Компаньон не запущен. Запустите: evva-companion run --data-dir "${settings.dataDir}"`); return 3; };
  if (!info) return notRunning();
  try {
    const res = await fetch(`${info.url}/api/login-link`, { method: 'POST', headers: { authorization: `Bearer ${info.token}` }, signal: AbortSignal.timeout(5_000) });
    if (res.status !== 200) return notRunning();
    const link = LoginLink.parse(await res.json());
    console.log(`Откройте в браузере на этом компьютере (ссылка действует один раз, ${Math.round(link.expiresInSec / 60)} минут):\n${link.url}`);
    return 0;
  } catch {
    return notRunning();
  }
}

async function status(flags: SettingsFlags, json: boolean, check: boolean): Promise<number> {
  const settings = loadSettings(flags);
  const file = path.join(settings.dataDir, LOCAL_API_FILE);
  const notRunning = (why: string) => {
    if (json) console.log(JSON.stringify({ running: false, reason: why }));
    else console.error(`Компаньон не запущен (${why}). Запустите: evva-companion run --data-dir "${settings.dataDir}"`);
    return 3;
  };
  const info = runningAgent(settings.dataDir);
  if (!info) return notRunning(`нет файла ${file} или он повреждён`);
  const verified = await verifyCompanion(info);
  if (!verified.ok) return notRunning(verified.why);
  let body: unknown;
  try {
    const res = await askLocal(`${info.url}/api/status`, { headers: { authorization: `Bearer ${info.token}` }, timeoutMs: 5_000 });
    if (res.status !== 200) return notRunning(`локальный API ответил ${res.status}`);
    body = JSON.parse(res.text);
  } catch {
    return notRunning(`локальный API ${info.url} не отвечает`);
  }
  const s = Status.safeParse(body);
  if (!s.success) { console.error('Компаньон прислал неожиданный ответ о состоянии.'); return check ? 3 : 1; }
  if (json) console.log(JSON.stringify(s.data, null, 2));
  else console.log(describe(s.data));
  return check ? checkExit(s.data) : 0;
}

const SOURCE_TEXT: Record<SettingSource, (spec?: SettingSpec) => string> = {
  default: () => 'по умолчанию',
  file: () => SETTINGS_FILE,
  env: (spec) => `переменная ${spec?.env ?? 'EVVA_DATA_DIR'}`,
  flag: (spec) => `параметр ${spec?.flag ?? '--data-dir'}`,
};

/**
 * `settings`: every value in force and where it came from; passwords masked.
 * A running companion is asked (it may run with flags or an environment this
 * shell does not have); with none running, the values it would start with here.
 */
async function showSettings(flags: SettingsFlags, json: boolean): Promise<number> {
  const settings = loadSettings(flags);
  const found = runningAgent(settings.dataDir);
  const running = found && (await verifyCompanion(found)).ok ? found : null;
  let effective: EffectiveSettings | null = null;
  if (running) {
    try {
      const res = await fetch(`${running.url}/api/settings/effective`, { headers: { authorization: `Bearer ${running.token}` }, signal: AbortSignal.timeout(5_000) });
      if (res.status === 200) effective = EffectiveSettings.parse(await res.json());
    } catch {
      // Not answering (or an older companion): said below, and the values computed here are shown.
    }
  }
  const from = effective ? 'running' : running ? 'unanswered' : 'not_running';
  effective ??= effectiveSettings(settings);
  if (json) {
    console.log(JSON.stringify({ running: from === 'running', ...(running?.pid ? { pid: running.pid } : {}), ...effective }, null, 2));
    return 0;
  }
  const show = (v: unknown) => (v === null ? 'не задано' : Array.isArray(v) ? v.join(', ') : String(v));
  const specs = new Map(SETTING_SPECS.map((spec) => [spec.key, spec]));
  console.log(from === 'running'
    ? `Настройки работающего компаньона EVVA Companion (процесс ${running?.pid ?? '?'}, ${running?.url ?? ''}):`
    : from === 'unanswered'
      ? `Компаньон запущен (${running?.url ?? ''}), но не ответил; ниже настройки, с которыми он запустился бы из этой папки данных:`
      : `Компаньон не запущен. Ниже настройки, с которыми он запустится из этой папки данных${Object.values(flags).some((v) => v !== undefined) ? ' с этими параметрами' : ''}:`);
  console.log(`  папка данных: ${effective.dataDir.value} (${SOURCE_TEXT[effective.dataDir.source]()})`);
  const keys = Object.keys(effective.settings);
  const width = Math.max(...keys.map((k) => k.length));
  for (const key of keys) {
    const row = effective.settings[key]!;
    const source = row.fromEnv ? `из ${row.fromEnv}` : SOURCE_TEXT[row.source](specs.get(key));
    console.log(`  ${key.padEnd(width)}  ${show(row.value)}  (${source})`);
  }
  console.log(`Приоритет: параметры > переменные окружения > ${path.join(settings.dataDir, SETTINGS_FILE)} > значения по умолчанию. Описание каждой настройки: docs/settings.md`);
  return 0;
}

/**
 * Runs the checks in the running companion (so the tunnel is checked too);
 * with none running, runs them here with the plugin only and says the tunnel is down.
 */
async function diagnoseCommand(flags: SettingsFlags, json: boolean): Promise<number> {
  const settings = loadSettings(flags);
  const found = runningAgent(settings.dataDir);
  // The token goes only to the process that proves it wrote local-api.json (see api/proof.ts).
  const running = found && (await verifyCompanion(found)).ok ? found : null;
  let report: Report | null = null;
  if (running) {
    try {
      const res = await fetch(`${running.url}/api/diagnostics`, {
        method: 'POST', headers: { authorization: `Bearer ${running.token}` }, signal: AbortSignal.timeout(15_000),
      });
      if (res.status === 200) report = Report.parse(await res.json());
    } catch {
      // Not answering: run the checks here below.
    }
  }
  // Loaded only here: the checks pull in the plugin client (undici), which `status` must not pay for.
  const { diagnoseHere } = await import('./diagnostics/standalone.ts');
  const { reportText } = await import('../../face/report.ts');
  report ??= await diagnoseHere(settings);
  console.log(json ? JSON.stringify(report, null, 2) : reportText(report));
  return report.summary.result === 'fail' ? 1 : 0;
}

async function find(json: boolean): Promise<number> {
  const { discover } = await import('./front/discovery.ts');
  const { explain } = await import('./front/errors.ts');
  const ports = discoveryPortsFromEnv(process.env);
  const r = await discover(ports ? { ports } : {});
  if (json) {
    console.log(JSON.stringify({
      found: r.found,
      tried: r.tried.map((t) => ({ url: t.url, kind: t.kind, ...(t.kind === 'not_plugin' ? { why: t.why } : {}), ...(t.kind === 'plugin' && t.version ? { version: t.version } : {}) })),
      ...(r.error ? { error: explain(r.error, r.errorUrl ?? null) } : {}),
    }, null, 2));
    return r.found ? 0 : 1;
  }
  for (const t of r.tried) {
    const what = t.kind === 'plugin' ? `плагин Front Web API${t.version ? ` ${t.version}` : ''}` : t.kind === 'not_plugin' ? `другая программа (${t.why})` : 'не отвечает';
    console.log(`  ${t.url}: ${what}`);
  }
  if (r.found) { console.log(`Найден плагин: ${r.found.url}`); return 0; }
  const p = explain(r.error, r.errorUrl ?? null);
  console.error(`${p.message} ${p.hint ?? ''}`);
  return 1;
}

/** Runs this process's command line (bin/evva-companion.js calls it), then exits: no waiting for idle keep-alive sockets or log file handles. */
export async function runCommandLine(): Promise<void> {
  process.exitCode = await main(process.argv.slice(2));
  setImmediate(() => process.exit());
}
