/**
 * The settings table: one entry per key of settings.json, holding its schema
 * (type and range), default, unit, and what it means in Russian and English.
 * The validator (`SettingsFile`), the defaults (`DEFAULTS`) and docs/settings.md
 * are all derived from it, so a range, a default or a description is written
 * once. Keys say their unit (`…Ms`, `…Sec`, `…Min`, `…Hours`, `…Days`, `…Bytes`)
 * and the same name and unit go from settings.json through `Settings` to the
 * module that uses the value, which converts to milliseconds where it sets a
 * timer; tests/unit/companion/settings-table.test.ts checks the names against the units.
 *
 * This file is a leaf (zod, the wire constants, the proxy parser): modules that
 * need a default without settings (tests, tools) import it from here.
 */
import { z } from 'zod';
import { DEFAULT_API_PORT } from '../../protocol/local.ts';
import { DEFAULT_FRONT_PORT, DEFAULT_MAX_ANSWER_BYTES, DEFAULT_MODULE_ID } from '../../protocol/front.ts';
import { isLoopbackHost } from '../../common/loopback.ts';
import { normalizeProxy } from './tunnel/proxy.ts';

/** The unit of a quantity; the key's suffix names it (UNIT_SUFFIX). */
export type Unit = 'ms' | 's' | 'min' | 'h' | 'days' | 'bytes' | 'count';

/** The key suffix each unit requires (a count has none). */
export const UNIT_SUFFIX: Record<Unit, string> = { ms: 'Ms', s: 'Sec', min: 'Min', h: 'Hours', days: 'Days', bytes: 'Bytes', count: '' };

/** Milliseconds in one of each time unit: the one conversion, used where a module sets its timer. */
export const MS_PER: Record<'ms' | 's' | 'min' | 'h' | 'days', number> = { ms: 1, s: 1_000, min: 60_000, h: 3_600_000, days: 86_400_000 };

/** One setting. */
export interface Entry<S extends z.ZodType = z.ZodType> {
  /** The value as settings.json may hold it (the file's fields are all optional; absent means `default`). */
  schema: S;
  default: z.output<S>;
  unit?: Unit;
  /** The type as a reader writes it, when the schema's own (numbers: «целое 1…365») says too little. */
  type?: string;
  /** The default as docs show it, when the value alone says too little (`null` meaning «find it»). */
  shown?: string;
  env?: string;
  flag?: string;
  /** Shown masked by `evva-companion settings` (may hold a password). */
  secret?: boolean;
  /** What it does and when to change it: Russian first, for the venue's sysadmin. */
  ru: string;
  en: string;
}

/** Keeps each entry's schema type, so the derived values are typed. */
const entry = <S extends z.ZodType>(e: Entry<S>): Entry<S> => e;

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

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Every key of settings.json, in the order docs/settings.md lists them; `tunnel` and `feed` are sections of the file. */
export const TABLE = {
  frontUrl: entry({
    schema: frontUrl.nullable(), default: null, type: 'строка или null', shown: 'null (искать самому)', env: 'EVVA_FRONT_URL', flag: '--front-url',
    ru: `Адрес плагина Front Web API на этом компьютере, например http://127.0.0.1:${DEFAULT_FRONT_PORT}. Только 127.0.0.1 или localhost, без пути. Без него компаньон ищет плагин на обычных портах.`,
    en: `The Front Web API plugin's address on this PC, e.g. http://127.0.0.1:${DEFAULT_FRONT_PORT}. Only 127.0.0.1 or localhost, no path. Without it the companion looks for the plugin on the usual ports.`,
  }),
  /** 0 picks a free port (tests, several companions on one PC); local-api.json tells which. */
  apiPort: entry({
    schema: z.number().int().min(0).max(65535), default: DEFAULT_API_PORT, env: 'EVVA_API_PORT', flag: '--api-port',
    ru: 'Порт локального API на 127.0.0.1. 0 — любой свободный (его адрес пишется в local-api.json).',
    en: 'The local API\'s port on 127.0.0.1. 0: any free port (its address is written to local-api.json).',
  }),
  moduleId: entry({
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'буквы, цифры, - или _'), default: DEFAULT_MODULE_ID, type: 'строка (буквы, цифры, - _; до 40)',
    ru: 'Номер модуля лицензии, с которым компаньон входит в плагин (/api/login/<moduleId>). Меняйте, только если так скажет iiko-интегратор.',
    en: 'The licence module the companion logs in to the plugin with (/api/login/<moduleId>). Change it only if the iiko integrator says so.',
  }),
  /** Every 3 s: a stopped plugin shows red within 10 s even with a slow last answer. */
  probeIntervalSec: entry({
    schema: z.number().min(1).max(300), default: 3, unit: 's',
    ru: 'Как часто (в секундах) проверять, что плагин отвечает.',
    en: 'How often (in seconds) to check that the plugin answers.',
  }),
  /** 32 MiB: far above any real answer the core reads (a day's orders), far below what hurts a POS PC. */
  frontMaxAnswerBytes: entry({
    schema: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024), default: DEFAULT_MAX_ANSWER_BYTES, unit: 'bytes',
    ru: 'Самый большой ответ плагина (в байтах), который компаньон читает целиком (проверка, поиск плагина); больший отвергается с ошибкой «слишком большой ответ», чтобы сбойный плагин не занял всю память компьютера.',
    en: 'The largest plugin answer (in bytes) the companion reads whole (the check, finding the plugin); a bigger one is refused as «too large», so a faulty plugin cannot take all the PC\'s memory.',
  }),
  logLevel: entry({
    schema: z.enum(['error', 'warn', 'info', 'debug']), default: 'info', env: 'EVVA_LOG_LEVEL', flag: '--log-level',
    ru: 'Подробность журнала в папке данных (logs/).',
    en: 'How detailed the log in the data folder (logs/) is.',
  }),
  relayUrl: entry({
    schema: relayUrl.nullable(), default: null, type: 'строка или null', env: 'EVVA_RELAY_URL', flag: '--relay-url',
    ru: 'Адрес сервера EVVA для привязки (https://…); его дает EVVA вместе с кодом. После привязки адрес хранится в device.json.',
    en: 'The EVVA server to pair with (https://…); EVVA gives it with the code. After pairing it is kept in device.json.',
  }),
  proxy: entry({
    schema: proxyUrl.nullable(), default: null, type: 'строка или null', shown: 'из HTTPS_PROXY / HTTP_PROXY', env: 'EVVA_PROXY', flag: '--proxy', secret: true,
    ru: 'HTTP-прокси для связи с EVVA: http://прокси:порт или прокси:порт (логин и пароль: http://логин:пароль@прокси:порт). null — без прокси, даже если он задан в HTTPS_PROXY. Без значения берутся HTTPS_PROXY / HTTP_PROXY и NO_PROXY.',
    en: 'The HTTP proxy for reaching EVVA: http://proxy:port or proxy:port (with a login: http://user:password@proxy:port). null: no proxy, even if HTTPS_PROXY names one. Unset: HTTPS_PROXY / HTTP_PROXY and NO_PROXY apply.',
  }),
  /** The UI's language (the desktop app and the browser UI share it). */
  language: entry({
    schema: z.enum(['ru', 'en']), default: 'ru',
    ru: 'Язык интерфейса компаньона (окно приложения и страница в браузере). Меняется в разделе «Настройки» интерфейса.',
    en: 'The companion\'s interface language (the app window and the browser page). Changed under «Настройки» (Settings).',
  }),
  /** A month of history: enough to answer «what happened last week», small on disk. */
  journalDays: entry({
    schema: z.number().int().min(1).max(365), default: 30, unit: 'days',
    ru: 'Сколько дней хранить журнал событий (раздел «Журнал»: связь, iikoFront, заказы, оплаты, смены) в journal.sqlite папки данных; не больше 50 000 строк в любом случае. Меняется и в разделе «Настройки».',
    en: 'How many days the event journal (the «Журнал» screen: link, iikoFront, orders, payments, shifts) keeps in the data folder\'s journal.sqlite; never more than 50,000 rows. Also changed under «Настройки».',
  }),
  /** A month: a headless PC reboots without anyone needing a new link, and a lost browser profile expires. */
  uiSessionDays: entry({
    schema: z.number().int().min(1).max(365), default: 30, unit: 'days',
    ru: 'Сколько дней браузер остаётся в интерфейсе компаньона после входа по одноразовой ссылке, в том числе после перезапуска компаньона и компьютера (до кнопки «Выйти»). Вступает в силу для следующих входов.',
    en: 'How many days a browser stays signed in to the companion\'s interface after the one-time login link, across restarts of the companion and the PC (until «Выйти», sign out). Applies to later sign-ins.',
  }),
  allowInsecure: entry({
    schema: z.boolean(), default: false, flag: '--allow-insecure',
    ru: 'Разрешить незашифрованное соединение (http://, ws://) с сервером EVVA не на этом компьютере. Только для проверки.',
    en: 'Allow an unencrypted connection (http://, ws://) to an EVVA server on another computer. For testing only.',
  }),
  /** EVVA support may run diagnostics, read logs and take a bundle through the relay (audited). */
  allowRemoteDiagnostics: entry({
    schema: z.boolean(), default: true,
    ru: 'Разрешить поддержке EVVA удалённо запускать проверку, читать журнал (без паролей и ключей) и забирать архив для разбора. Каждое действие пишется в журнал аудита (audit.jsonl, GET /api/audit). false — запрещено; действует сразу, без перезапуска.',
    en: 'Let EVVA support run the checks remotely, read the log (without passwords or keys) and take a bundle to study. Each action is written to the audit log (audit.jsonl, GET /api/audit). false: not allowed; applies at once, without a restart.',
  }),
  /** The port the router forwards to the plugin, when it is not the plugin's own; the port check probes it. */
  externalPort: entry({
    schema: z.number().int().min(1).max(65535).nullable(), default: null, shown: 'null (порт плагина)',
    ru: 'Порт, который роутер пробрасывает на плагин, если он отличается от порта плагина. По нему сервер EVVA проверяет снаружи, не открыт ли плагин в интернет.',
    en: 'The port the router forwards to the plugin, when it differs from the plugin\'s own. The EVVA server probes it from outside to tell whether the plugin is open to the internet.',
  }),
  /** What the tunnel may do (the gate's policy and the response limit); the relay sets per-request timeouts. */
  tunnel: {
    /** Read-only by default: every public client of the plugin only reads. */
    allowMethods: entry({
      schema: z.array(z.enum(METHODS)), default: ['GET', 'HEAD'], type: `список из ${METHODS.join(', ')}`,
      ru: 'Какие HTTP-методы EVVA может вызывать у плагина через туннель. По умолчанию только чтение.',
      en: 'Which HTTP methods EVVA may call on the plugin through the tunnel. Read-only by default.',
    }),
    maxRequestBytes: entry({
      schema: z.number().int().min(0).max(64 * 1024 * 1024), default: 64 * 1024, unit: 'bytes',
      ru: 'Наибольший размер тела запроса от EVVA к плагину, байт.',
      en: 'The largest request body from EVVA to the plugin, in bytes.',
    }),
    /** 100 MiB: far above what the plugin serves, low enough to bound memory. */
    maxResponseBytes: entry({
      schema: z.number().int().min(1024).max(1024 * 1024 * 1024), default: 100 * 1024 * 1024, unit: 'bytes',
      ru: 'Наибольший размер ответа плагина, который компаньон передаст в EVVA, байт.',
      en: 'The largest plugin answer the companion passes on to EVVA, in bytes.',
    }),
  },
  /** The feed (docs/feed.md): poll intervals, coalescing, EVVA's payment type name, payment reminders. */
  feed: {
    enabled: entry({
      schema: z.boolean(), default: true,
      ru: 'Отправлять ли в EVVA изменения заказов, сотрудников, столов и меню и принимать ли оплаты EVVA PAY. false — только туннель.',
      en: 'Whether to send EVVA the changes of orders, staff, tables and the menu and take EVVA PAY payments. false: the tunnel only.',
    }),
    ordersIntervalMs: entry({
      schema: z.number().int().min(100).max(60_000), default: 1_000, unit: 'ms',
      ru: 'Как часто (в миллисекундах) спрашивать плагин об изменениях заказов и доставок.',
      en: 'How often (in milliseconds) to ask the plugin for changes of orders and deliveries.',
    }),
    staffIntervalSec: entry({
      schema: z.number().min(1).max(86_400), default: 60, unit: 's',
      ru: 'Как часто (в секундах) проверять список сотрудников.',
      en: 'How often (in seconds) to check the staff list.',
    }),
    tablesIntervalSec: entry({
      schema: z.number().min(1).max(86_400), default: 300, unit: 's',
      ru: 'Как часто (в секундах) проверять столы и залы.',
      en: 'How often (in seconds) to check tables and sections.',
    }),
    menuIntervalHours: entry({
      schema: z.number().min(0.1).max(168), default: 24, unit: 'h',
      ru: 'Как часто (в часах) отправлять в EVVA меню целиком; EVVA может запросить его и раньше.',
      en: 'How often (in hours) to send EVVA the whole menu; EVVA may ask for it sooner.',
    }),
    coalesceAbove: entry({
      schema: z.number().int().min(10).max(10_000_000), default: 1_000, unit: 'count',
      ru: 'Сколько неотправленных событий копить без сжатия; сверх этого промежуточные состояния заказа объединяются (смены статуса сохраняются).',
      en: 'How many unsent events to keep as they are; above that, intermediate states of an order are merged (status changes are kept).',
    }),
    /** EVVA's payment type is the one whose name contains this (ignoring case) when the plugin shows no codes. */
    evvaPaymentName: entry({
      schema: z.string().max(100), default: 'EVVA', type: 'строка до 100',
      ru: 'Часть названия типа оплаты EVVA (без учёта регистра), по которой он узнаётся, если плагин не показывает код EVVAP.',
      en: 'Part of the EVVA payment type\'s name (ignoring case) that tells it, when the plugin does not show the code EVVAP.',
    }),
    paymentCloseAfterMin: entry({
      schema: z.number().min(0.01).max(24 * 60), default: 10, unit: 'min',
      ru: 'Через сколько минут после оплаты EVVA PAY напоминать, что заказ всё ещё не закрыт в iiko.',
      en: 'How many minutes after an EVVA PAY payment to remind that the order is still not closed in iiko.',
    }),
    /** The venue's couriers, by iiko user code (Code) or name: the plugin shows no rights, so only the venue can say. */
    courierCodes: entry({
      schema: z.array(z.string().trim().min(1).max(100)).max(1000), default: [], type: 'список строк (до 1000)', shown: '[] (не указано)',
      ru: 'Кто в заведении курьер: табельные номера (код сотрудника в iikoOffice) или имена, как в iiko. Плагин не показывает права сотрудников (право D_DC0 «Быть курьером для доставки» и ПИН-код видны только в iikoOffice), поэтому без этого списка EVVA получает сотрудников с пометкой «курьер: неизвестно».',
      en: 'Who the venue\'s couriers are: personnel numbers (the user code in iikoOffice) or names, as in iiko. The plugin shows no staff rights (D_DC0 «deliver as courier» and PINs are only in iikoOffice), so without this list EVVA gets staff marked «courier: unknown».',
    }),
  },
};

type Table = typeof TABLE;
type Values<G> = { -readonly [K in keyof G]: G[K] extends Entry<infer S> ? z.output<S> : Values<G[K]> };
type Partial2<V> = { [K in keyof V]?: V[K] extends readonly unknown[] ? V[K] : V[K] extends object ? Partial2<V[K]> : V[K] };

/** Every setting's value after defaults, named and in the unit of settings.json. */
export type SettingValues = Values<Table>;
/** What may appear in settings.json: every field optional. */
export type SettingsFile = Partial2<SettingValues>;

const isEntry = (v: unknown): v is Entry => typeof v === 'object' && v !== null && 'schema' in v;

/** The table flat: one row per dotted key (`feed.staffIntervalSec`), in the table's order. */
export interface Row { key: string; path: [string] | [string, string]; entry: Entry }
export const ROWS: Row[] = Object.entries(TABLE).flatMap(([top, v]): Row[] => (isEntry(v)
  ? [{ key: top, path: [top], entry: v as Entry }]
  : Object.entries(v as Record<string, Entry>).map(([sub, e]): Row => ({ key: `${top}.${sub}`, path: [top, sub], entry: e }))));

/** The validator of settings.json, built from the table (unknown fields are refused so typos are caught). */
export const SettingsFile = z.strictObject(Object.fromEntries(Object.entries(TABLE).map(([top, v]) => [top, isEntry(v)
  ? v.schema.optional()
  : z.strictObject(Object.fromEntries(Object.entries(v as Record<string, Entry>).map(([sub, e]) => [sub, e.schema.optional()]))).optional()]))) as unknown as z.ZodType<SettingsFile>;

/** Every default, shaped like settings.json; frozen, so a module that takes one cannot change it for the others. */
export const DEFAULTS: Readonly<SettingValues> = deepFreeze(Object.fromEntries(Object.entries(TABLE).map(([top, v]) => [top, isEntry(v)
  ? v.default
  : Object.fromEntries(Object.entries(v as Record<string, Entry>).map(([sub, e]) => [sub, e.default]))])) as SettingValues);

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The type as docs/settings.md shows it: the entry's own words, or the number schema's range («целое 1…365»). */
export function typeText(e: Entry): string {
  if (e.type) return e.type;
  let s: z.ZodType = e.schema;
  let nullable = false;
  while (s instanceof z.ZodNullable || s instanceof z.ZodOptional) {
    if (s instanceof z.ZodNullable) nullable = true;
    s = s.unwrap() as z.ZodType;
  }
  const base = s instanceof z.ZodNumber ? `${s.isInt ? 'целое' : 'число'} ${s.minValue}…${s.maxValue}`
    : s instanceof z.ZodBoolean ? 'true | false'
      : s instanceof z.ZodEnum ? (s.options as string[]).join(' | ')
        : 'строка';
  return nullable ? `${base} или null` : base;
}

/** The default as docs/settings.md shows it. */
export function defaultText(e: Entry): string {
  if (e.shown) return e.shown;
  return Array.isArray(e.default) ? e.default.join(', ') : String(e.default);
}
