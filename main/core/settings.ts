/**
 * The companion's settings: defaults, then `<data-dir>/settings.json`, then
 * the environment, then command-line flags (each overrides the one before).
 * Every value is validated; a bad one is reported by name, in Russian.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_API_PORT, type EffectiveSettings } from '../../protocol/local.ts';
import { DEFAULT_FRONT_PORT, DEFAULT_MAX_ANSWER_BYTES, DEFAULT_MODULE_ID } from '../../protocol/front.ts';
import { isLoopbackHost } from '../../common/loopback.ts';
import { badProxyText, issueText } from './messages.ts';
import { DEFAULT_GATE_POLICY } from './tunnel/gate.ts';
import { DEFAULT_TUNNEL_LIMITS } from './tunnel/link.ts';
import { normalizeProxy, PROXY_ENV_VARS } from './tunnel/proxy.ts';

export const SETTINGS_FILE = 'settings.json';

const frontUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && isLoopbackHost(u.hostname) && (u.pathname === '/' || u.pathname === '') && !u.search && !u.username;
  } catch {
    return false;
  }
}, { message: `нужен адрес плагина на этом компьютере, например http://127.0.0.1:${DEFAULT_FRONT_PORT} (только 127.0.0.1 или localhost, без пути)` });

const proxyUrl = z.string().refine((v) => normalizeProxy(v) !== null, {
  message: 'нужен адрес HTTP-прокси вида http://прокси:порт или прокси:порт, например http://10.0.0.1:3128',
}).transform((v) => normalizeProxy(v) as string);

const relayUrl = z.string().refine((v) => {
  try {
    return ['http:', 'https:', 'ws:', 'wss:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, { message: 'нужен адрес сервера EVVA вида https://relay.example' });

/** What may appear in settings.json (all optional; unknown fields are refused so typos are caught). */
export const SettingsFile = z.strictObject({
  frontUrl: frontUrl.nullable().optional(),
  /** 0 picks a free port (tests, several companions on one PC); local-api.json tells which. */
  apiPort: z.number().int().min(0).max(65535).optional(),
  moduleId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'буквы, цифры, - или _').optional(),
  probeIntervalSec: z.number().min(1).max(300).optional(),
  /** Largest plugin answer the core reads whole (probe, discovery, feed); bigger ones are refused. */
  frontMaxAnswerBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).optional(),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).optional(),
  relayUrl: relayUrl.nullable().optional(),
  proxy: proxyUrl.nullable().optional(),
  allowInsecure: z.boolean().optional(),
  /** EVVA support may run diagnostics, read logs and take a bundle through the relay (audited). */
  allowRemoteDiagnostics: z.boolean().optional(),
  /** The port the router forwards to the plugin, when it is not the plugin's own; the port check probes it. */
  externalPort: z.number().int().min(1).max(65535).nullable().optional(),
  /** How long a browser stays signed in to the UI after the one-time login link (ui-sessions.json). */
  uiSessionDays: z.number().int().min(1).max(365).optional(),
  /** How many days the Журнал keeps its rows (journal.sqlite). */
  journalDays: z.number().int().min(1).max(365).optional(),
  /** The UI's language (the desktop app and the browser UI share it). */
  language: z.enum(['ru', 'en']).optional(),
  tunnel: z.strictObject({
    allowMethods: z.array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])).optional(),
    maxRequestBytes: z.number().int().min(0).max(64 * 1024 * 1024).optional(),
    maxResponseBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).optional(),
  }).optional(),
  /** The feed (docs/feed.md): poll intervals, coalescing, EVVA's payment type name, payment reminders. */
  feed: z.strictObject({
    enabled: z.boolean().optional(),
    ordersIntervalMs: z.number().int().min(100).max(60_000).optional(),
    staffIntervalSec: z.number().min(1).max(86_400).optional(),
    tablesIntervalSec: z.number().min(1).max(86_400).optional(),
    menuIntervalHours: z.number().min(0.1).max(168).optional(),
    coalesceAbove: z.number().int().min(10).max(10_000_000).optional(),
    evvaPaymentName: z.string().max(100).optional(),
    paymentCloseAfterMin: z.number().min(0.01).max(24 * 60).optional(),
    /** The venue's couriers, by iiko user code (Code) or name: the plugin shows no rights, so only the venue can say. */
    courierCodes: z.array(z.string().trim().min(1).max(100)).max(1000).optional(),
  }).optional(),
});
export type SettingsFile = z.infer<typeof SettingsFile>;

/** Where an effective value came from, weakest first. */
export type SettingSource = 'default' | 'file' | 'env' | 'flag';

/** One key of settings.json as docs/settings.md and `evva-companion settings` describe it. */
export interface SettingSpec {
  /** Dotted key in settings.json, e.g. `tunnel.maxRequestBytes`. */
  key: string;
  /** The JSON type, as a reader writes it. */
  type: string;
  /** The default as shown (text). */
  default: string;
  env?: string;
  flag?: string;
  /** Russian: what it does and when to change it. */
  about: string;
  /** Shown masked by `evva-companion settings` (may hold a password). */
  secret?: boolean;
}

/** Every key of SettingsFile, documented; tests/unit/settings-doc.test.ts fails when one is missing. */
export const SETTING_SPECS: SettingSpec[] = [
  { key: 'frontUrl', type: 'строка или null', default: 'null (искать самому)', env: 'EVVA_FRONT_URL', flag: '--front-url',
    about: `Адрес плагина Front Web API на этом компьютере, например http://127.0.0.1:${DEFAULT_FRONT_PORT}. Только 127.0.0.1 или localhost, без пути. Без него компаньон ищет плагин на обычных портах.` },
  { key: 'apiPort', type: 'целое 0…65535', default: String(DEFAULT_API_PORT), env: 'EVVA_API_PORT', flag: '--api-port',
    about: 'Порт локального API на 127.0.0.1. 0 — любой свободный (его адрес пишется в local-api.json).' },
  { key: 'moduleId', type: 'строка (буквы, цифры, - _; до 40)', default: DEFAULT_MODULE_ID,
    about: 'Номер модуля лицензии, с которым компаньон входит в плагин (/api/login/<moduleId>). Меняйте, только если так скажет iiko-интегратор.' },
  { key: 'probeIntervalSec', type: 'число 1…300', default: '3',
    about: 'Как часто (в секундах) проверять, что плагин отвечает.' },
  { key: 'frontMaxAnswerBytes', type: 'целое число 65536…1073741824', default: String(DEFAULT_MAX_ANSWER_BYTES),
    about: 'Самый большой ответ плагина (в байтах), который компаньон читает целиком (проверка, поиск плагина); больший отвергается с ошибкой «слишком большой ответ», чтобы сбойный плагин не занял всю память компьютера.' },
  { key: 'logLevel', type: 'error | warn | info | debug', default: 'info', env: 'EVVA_LOG_LEVEL', flag: '--log-level',
    about: 'Подробность журнала в папке данных (logs/).' },
  { key: 'relayUrl', type: 'строка или null', default: 'null', env: 'EVVA_RELAY_URL', flag: '--relay-url',
    about: 'Адрес сервера EVVA для привязки (https://…); его дает EVVA вместе с кодом. После привязки адрес хранится в device.json.' },
  { key: 'proxy', type: 'строка или null', default: 'из HTTPS_PROXY / HTTP_PROXY', env: 'EVVA_PROXY', flag: '--proxy', secret: true,
    about: 'HTTP-прокси для связи с EVVA: http://прокси:порт или прокси:порт (логин и пароль: http://логин:пароль@прокси:порт). null — без прокси, даже если он задан в HTTPS_PROXY. Без значения берутся HTTPS_PROXY / HTTP_PROXY и NO_PROXY.' },
  { key: 'language', type: 'ru | en', default: 'ru',
    about: 'Язык интерфейса компаньона (окно приложения и страница в браузере). Меняется в разделе «Настройки» интерфейса.' },
  { key: 'journalDays', type: 'целое 1…365', default: '30',
    about: 'Сколько дней хранить журнал событий (раздел «Журнал»: связь, iikoFront, заказы, оплаты, смены) в journal.sqlite папки данных; не больше 50 000 строк в любом случае. Меняется и в разделе «Настройки».' },
  { key: 'uiSessionDays', type: 'целое 1…365', default: '30',
    about: 'Сколько дней браузер остаётся в интерфейсе компаньона после входа по одноразовой ссылке, в том числе после перезапуска компаньона и компьютера (до кнопки «Выйти»). Вступает в силу для следующих входов.' },
  { key: 'allowInsecure', type: 'true | false', default: 'false', flag: '--allow-insecure',
    about: 'Разрешить незашифрованное соединение (http://, ws://) с сервером EVVA не на этом компьютере. Только для проверки.' },
  { key: 'allowRemoteDiagnostics', type: 'true | false', default: 'true',
    about: 'Разрешить поддержке EVVA удалённо запускать проверку, читать журнал (без паролей и ключей) и забирать архив для разбора. Каждое действие пишется в журнал аудита (audit.jsonl, GET /api/audit). false — запрещено; действует сразу, без перезапуска.' },
  { key: 'externalPort', type: 'целое 1…65535 или null', default: 'null (порт плагина)',
    about: 'Порт, который роутер пробрасывает на плагин, если он отличается от порта плагина. По нему сервер EVVA проверяет снаружи, не открыт ли плагин в интернет.' },
  { key: 'tunnel.allowMethods', type: 'список из GET, HEAD, POST, PUT, PATCH, DELETE', default: DEFAULT_GATE_POLICY.allowMethods.join(', '),
    about: 'Какие HTTP-методы EVVA может вызывать у плагина через туннель. По умолчанию только чтение.' },
  { key: 'tunnel.maxRequestBytes', type: 'целое 0…67108864', default: String(DEFAULT_GATE_POLICY.maxRequestBytes),
    about: 'Наибольший размер тела запроса от EVVA к плагину, байт.' },
  { key: 'tunnel.maxResponseBytes', type: 'целое 1024…1073741824', default: String(DEFAULT_TUNNEL_LIMITS.maxResponseBytes),
    about: 'Наибольший размер ответа плагина, который компаньон передаст в EVVA, байт.' },
  { key: 'feed.enabled', type: 'true | false', default: 'true',
    about: 'Отправлять ли в EVVA изменения заказов, сотрудников, столов и меню и принимать ли оплаты EVVA PAY. false — только туннель.' },
  { key: 'feed.ordersIntervalMs', type: 'целое 100…60000', default: '1000',
    about: 'Как часто (в миллисекундах) спрашивать плагин об изменениях заказов и доставок.' },
  { key: 'feed.staffIntervalSec', type: 'число 1…86400', default: '60',
    about: 'Как часто (в секундах) проверять список сотрудников.' },
  { key: 'feed.tablesIntervalSec', type: 'число 1…86400', default: '300',
    about: 'Как часто (в секундах) проверять столы и залы.' },
  { key: 'feed.menuIntervalHours', type: 'число 0.1…168', default: '24',
    about: 'Как часто (в часах) отправлять в EVVA меню целиком; EVVA может запросить его и раньше.' },
  { key: 'feed.coalesceAbove', type: 'целое 10…10000000', default: '1000',
    about: 'Сколько неотправленных событий копить без сжатия; сверх этого промежуточные состояния заказа объединяются (смены статуса сохраняются).' },
  { key: 'feed.evvaPaymentName', type: 'строка до 100', default: 'EVVA',
    about: 'Часть названия типа оплаты EVVA (без учёта регистра), по которой он узнаётся, если плагин не показывает код EVVAP.' },
  { key: 'feed.paymentCloseAfterMin', type: 'число 0.01…1440', default: '10',
    about: 'Через сколько минут после оплаты EVVA PAY напоминать, что заказ всё ещё не закрыт в iiko.' },
  { key: 'feed.courierCodes', type: 'список строк (до 1000)', default: '[] (не указано)',
    about: 'Кто в заведении курьер: табельные номера (код сотрудника в iikoOffice) или имена, как в iiko. Плагин не показывает права сотрудников (право D_DC0 «Быть курьером для доставки» и ПИН-код видны только в iikoOffice), поэтому без этого списка EVVA получает сотрудников с пометкой «курьер: неизвестно».' },
];

/** Environment variables read besides those of SETTING_SPECS. */
export const OTHER_ENV: Array<{ name: string; about: string }> = [
  { name: 'EVVA_DATA_DIR', about: 'Папка данных (как --data-dir): settings.json, device.json, local-api.json, журналы.' },
  { name: 'HTTPS_PROXY, HTTP_PROXY (и строчными)', about: 'Прокси, если в настройках proxy не задан; прокси:порт без схемы понимается как http://прокси:порт. Неверное значение останавливает запуск с сообщением, где названа переменная.' },
  { name: 'NO_PROXY', about: 'Адреса, к которым ходить без прокси: имена, суффиксы (.corp), IP, :порт, или *.' },
];

export interface Settings {
  dataDir: string;
  /** Plugin origin; null means "find it" (discovery). */
  frontUrl: string | null;
  apiPort: number;
  moduleId: string;
  probeIntervalMs: number;
  /** Cap on plugin answers read whole; see DEFAULTS.frontMaxAnswerBytes. */
  frontMaxAnswerBytes: number;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  language: 'ru' | 'en';
  relayUrl: string | null;
  proxy: string | null;
  allowInsecure: boolean;
  allowRemoteDiagnostics: boolean;
  journalDays: number;
  uiSessionDays: number;
  externalPort: number | null;
  /** What the tunnel may do (the gate's policy and the response limit); the relay sets per-request timeouts. */
  tunnel: { allowMethods: string[]; maxRequestBytes: number; maxResponseBytes: number };
  feed: FeedConfig;
  /** Where each key's effective value came from (keys of SETTING_SPECS, plus dataDir). */
  sources: Record<string, SettingSource>;
}

/** The feed's settings after defaults (docs/feed.md, "Settings"). */
export interface FeedConfig {
  enabled: boolean;
  ordersIntervalMs: number;
  staffIntervalMs: number;
  tablesIntervalMs: number;
  menuIntervalMs: number;
  coalesceAbove: number;
  /** EVVA's payment type is the one whose name contains this (ignoring case) when the plugin shows no codes. */
  evvaPaymentName: string;
  paymentCloseAfterMs: number;
  /** The venue's couriers by user code or name; empty: not said (staff go out with courier: null). */
  courierCodes: string[];
}

/** Flags as parsed by the CLI (already strings/numbers; validated here). */
export interface SettingsFlags {
  dataDir?: string;
  frontUrl?: string;
  apiPort?: string;
  relayUrl?: string;
  proxy?: string;
  allowInsecure?: boolean;
  logLevel?: string;
}

export const DEFAULTS = {
  apiPort: DEFAULT_API_PORT,
  moduleId: DEFAULT_MODULE_ID,
  /** Probe every 3 s: a stopped plugin shows red within 10 s even with a slow last answer. */
  probeIntervalSec: 3,
  /** 32 MiB: far above any real answer the core reads (a day's orders), far below what hurts a POS PC. */
  frontMaxAnswerBytes: DEFAULT_MAX_ANSWER_BYTES,
  logLevel: 'info' as const,
  allowRemoteDiagnostics: true,
  /** A month of history: enough to answer «what happened last week», small on disk. */
  journalDays: 30,
  /** A month: a headless PC reboots without anyone needing a new link, and a lost browser profile expires. */
  uiSessionDays: 30,
  feed: {
    enabled: true, ordersIntervalMs: 1_000, staffIntervalSec: 60, tablesIntervalSec: 300, menuIntervalHours: 24,
    coalesceAbove: 1_000, evvaPaymentName: 'EVVA', paymentCloseAfterMin: 10, courierCodes: [] as string[],
  },
  tunnel: {
    allowMethods: [...DEFAULT_GATE_POLICY.allowMethods],
    maxRequestBytes: DEFAULT_GATE_POLICY.maxRequestBytes,
    maxResponseBytes: DEFAULT_TUNNEL_LIMITS.maxResponseBytes,
  },
};

/** A settings problem a person can fix: names the field and the source. */
export class SettingsError extends Error {
  /** The fields at fault (top-level names), when known. */
  readonly fields: string[];
  /** What is wrong with each field, in Russian and without key names, for a form that names the field by its label. */
  readonly problems: Array<{ field: string; message: string }>;
  /** `bad_settings`: a value is wrong; `locked`: set by a flag or the environment at start, so not changeable while running. */
  readonly code: 'bad_settings' | 'locked';
  constructor(message: string, fields: string[] = [], problems: Array<{ field: string; message: string }> = [], code: 'bad_settings' | 'locked' = 'bad_settings') {
    super(message);
    this.name = 'SettingsError';
    this.fields = fields;
    this.problems = problems;
    this.code = code;
  }
}

/** Where data lives when nothing says otherwise (the desktop app uses the same folder, so `evva-companion status` finds its core). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  // The whole PC's folder, shared by every Windows user: one companion per PC (docs/desktop.md, "One companion per PC").
  if (process.platform === 'win32') return path.join(env.ProgramData ?? env.ALLUSERSPROFILE ?? 'C:\\ProgramData', 'EVVA Companion');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'EVVA Companion');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'EVVA Companion');
}

/** Reads `<dataDir>/settings.json`; a missing file is empty settings; a bad one throws SettingsError naming the field. */
export function readSettingsFile(dataDir: string): SettingsFile {
  const file = path.join(dataDir, SETTINGS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    // No file (or no such folder yet: the data dir check reports that) means no settings.
    if (['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) return {};
    throw new SettingsError(`Не удалось прочитать файл настроек ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new SettingsError(`Файл настроек ${file} не является корректным JSON (${(e as Error).message}). Исправьте или удалите его.`);
  }
  return check(SettingsFile, json, `в файле настроек ${file}`, 'file');
}

/** Merges defaults < file < env < flags and validates the result; says where each value came from. */
export function loadSettings(flags: SettingsFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  const dataDir = path.resolve(flags.dataDir ?? env.EVVA_DATA_DIR ?? defaultDataDir(env));
  const file = readSettingsFile(dataDir);
  const fromEnv = check(SettingsFile, pick({
    frontUrl: env.EVVA_FRONT_URL,
    apiPort: num(env.EVVA_API_PORT, 'EVVA_API_PORT'),
    relayUrl: env.EVVA_RELAY_URL,
    proxy: env.EVVA_PROXY,
    logLevel: env.EVVA_LOG_LEVEL,
  }), 'в переменных окружения', 'env');
  // The proxy variables other programs share are validated like ours, naming the variable.
  for (const name of PROXY_ENV_VARS) {
    const v = env[name];
    if (v && v.trim() && normalizeProxy(v) === null) throw new SettingsError(badProxyText(`Переменная окружения ${name}`, v));
  }
  const fromFlags = check(SettingsFile, pick({
    frontUrl: flags.frontUrl,
    apiPort: num(flags.apiPort, '--api-port'),
    relayUrl: flags.relayUrl,
    proxy: flags.proxy,
    allowInsecure: flags.allowInsecure || undefined,
    logLevel: flags.logLevel,
  }), 'в параметрах командной строки', 'flag');
  const merged = { ...file, ...fromEnv, ...fromFlags, tunnel: { ...DEFAULTS.tunnel, ...file.tunnel } };
  const feed = { ...DEFAULTS.feed, ...file.feed };
  const sources: Record<string, SettingSource> = {
    dataDir: flags.dataDir !== undefined ? 'flag' : env.EVVA_DATA_DIR !== undefined ? 'env' : 'default',
  };
  for (const spec of SETTING_SPECS) {
    const [top, sub] = spec.key.split('.') as [keyof SettingsFile, string | undefined];
    const has = (o: Record<string, unknown> | undefined) => o !== undefined && (sub ? (o[top] as Record<string, unknown> | undefined)?.[sub] !== undefined : o[top] !== undefined);
    sources[spec.key] = has(fromFlags) ? 'flag' : has(fromEnv) ? 'env' : has(file) ? 'file' : 'default';
  }
  return {
    dataDir,
    frontUrl: merged.frontUrl ? new URL(merged.frontUrl).origin : null,
    apiPort: merged.apiPort ?? DEFAULTS.apiPort,
    moduleId: merged.moduleId ?? DEFAULTS.moduleId,
    probeIntervalMs: (merged.probeIntervalSec ?? DEFAULTS.probeIntervalSec) * 1000,
    frontMaxAnswerBytes: merged.frontMaxAnswerBytes ?? DEFAULTS.frontMaxAnswerBytes,
    logLevel: merged.logLevel ?? DEFAULTS.logLevel,
    language: merged.language ?? 'ru',
    relayUrl: merged.relayUrl ?? null,
    proxy: merged.proxy ?? null,
    allowInsecure: merged.allowInsecure ?? false,
    allowRemoteDiagnostics: merged.allowRemoteDiagnostics ?? DEFAULTS.allowRemoteDiagnostics,
    journalDays: merged.journalDays ?? DEFAULTS.journalDays,
    uiSessionDays: merged.uiSessionDays ?? DEFAULTS.uiSessionDays,
    externalPort: merged.externalPort ?? null,
    tunnel: {
      allowMethods: merged.tunnel.allowMethods,
      maxRequestBytes: merged.tunnel.maxRequestBytes,
      maxResponseBytes: merged.tunnel.maxResponseBytes,
    },
    feed: {
      enabled: feed.enabled,
      ordersIntervalMs: feed.ordersIntervalMs,
      staffIntervalMs: feed.staffIntervalSec * 1000,
      tablesIntervalMs: feed.tablesIntervalSec * 1000,
      menuIntervalMs: feed.menuIntervalHours * 3_600_000,
      coalesceAbove: feed.coalesceAbove,
      evvaPaymentName: feed.evvaPaymentName,
      paymentCloseAfterMs: feed.paymentCloseAfterMin * 60_000,
      courierCodes: [...feed.courierCodes],
    },
    sources,
  };
}

/** Every effective value and where it came from, as `evva-companion settings --json` prints it; passwords masked. */
export function effectiveSettings(s: Settings, env: NodeJS.ProcessEnv = process.env): EffectiveSettings {
  const rows = Object.fromEntries(SETTING_SPECS.map((spec) => [spec.key, { value: effectiveValue(s, spec.key), source: s.sources[spec.key] ?? 'default' }])) as EffectiveSettings['settings'];
  // With no proxy setting, the environment's proxy applies to the relay (never to loopback): say which.
  const envProxy = PROXY_ENV_VARS.find((n) => env[n]);
  const proxy = rows.proxy;
  if (proxy && proxy.value === null && proxy.source === 'default' && envProxy) {
    rows.proxy = { value: maskUrl(normalizeProxy(env[envProxy] ?? '') ?? ''), source: 'default', fromEnv: envProxy };
  }
  return { dataDir: { value: s.dataDir, source: s.sources.dataDir ?? 'default' }, settings: rows };
}

/** The effective value of one SETTING_SPECS key, as settings.json would spell it; secrets masked when asked. */
export function effectiveValue(s: Settings, key: string, mask = true): unknown {
  const v = key === 'probeIntervalSec' ? s.probeIntervalMs / 1000
    : key.startsWith('tunnel.') ? s.tunnel[key.slice(7) as keyof Settings['tunnel']]
      : key.startsWith('feed.') ? feedValue(s.feed, key.slice(5))
        : (s as unknown as Record<string, unknown>)[key];
  return mask && typeof v === 'string' && SETTING_SPECS.find((x) => x.key === key)?.secret ? maskUrl(v) : v;
}

/** A feed setting as settings.json spells it (seconds, hours, minutes where the file uses them). */
function feedValue(f: FeedConfig, key: string): unknown {
  switch (key) {
    case 'staffIntervalSec': return f.staffIntervalMs / 1000;
    case 'tablesIntervalSec': return f.tablesIntervalMs / 1000;
    case 'menuIntervalHours': return f.menuIntervalMs / 3_600_000;
    case 'paymentCloseAfterMin': return f.paymentCloseAfterMs / 60_000;
    default: return (f as unknown as Record<string, unknown>)[key];
  }
}

/** A URL with its password replaced by *** (the user name stays: it helps support and is not the secret). */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.href.replace(/\/$/, '');
  } catch {
    return '***';
  }
}

/** Validates a whole settings.json value; throws SettingsError naming each bad field. */
export function checkSettingsFile(value: unknown, where: string): SettingsFile {
  return check(SettingsFile, value, where);
}

/**
 * Validates `value`; throws SettingsError naming each bad value the way its
 * source spells it: `параметр --front-url`, `переменная EVVA_FRONT_URL`, or the
 * settings.json field (with the flag and variable that would override it).
 */
function check<S extends z.ZodTypeAny>(schema: S, value: unknown, where: string, source: 'file' | 'env' | 'flag' = 'file'): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return issueText(i);
    const field = i.path.join('.');
    const spec = SETTING_SPECS.find((x) => x.key === field);
    if (source === 'flag' && spec?.flag) return `параметр ${spec.flag}: ${issueText(i)}`;
    if (source === 'env' && spec?.env) return `переменная ${spec.env}: ${issueText(i)}`;
    const names = spec ? [spec.env, spec.flag].filter(Boolean).join(', ') : '';
    return `поле «${field}${names ? ` (${names})` : ''}»: ${issueText(i)}`;
  });
  const fields = r.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : [String(i.path[0] ?? '')]));
  const problems = r.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? [] : [{ field: String(i.path[0] ?? ''), message: issueText(i) }]));
  throw new SettingsError(`Неверные настройки ${where}: ${lines.join('; ')}.`, fields, problems);
}

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new SettingsError(`Неверные настройки: ${name} должен быть числом от 0 до 65535, а не «${v}».`);
  return Number(v);
}

function pick<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as Partial<T>;
}
