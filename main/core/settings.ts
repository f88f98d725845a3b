/**
 * The companion's settings: defaults, then `<data-dir>/settings.json`, then
 * the environment, then command-line flags (each overrides the one before).
 * Every value is validated; a bad one is reported by name, in Russian. What
 * each setting is (schema, default, unit, description) is in ./table.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { EffectiveSettings } from '../../protocol/local.ts';
import { badProxyText, issueText } from './messages.ts';
import { defaultText, DEFAULTS, type Entry, ROWS, SettingsFile, type SettingValues, typeText, type Unit } from './table.ts';
import { normalizeProxy, PROXY_ENV_VARS } from './tunnel/proxy.ts';

export const SETTINGS_FILE = 'settings.json';

/** Where an effective value came from, weakest first. */
export type SettingSource = 'default' | 'file' | 'env' | 'flag';

/** One key of settings.json as docs/settings.md and `evva-companion settings` describe it (a row of the table, as text). */
export interface SettingSpec {
  /** Dotted key in settings.json, e.g. `tunnel.maxRequestBytes`. */
  key: string;
  /** The JSON type, as a reader writes it. */
  type: string;
  /** The default as shown (text). */
  default: string;
  unit?: Unit;
  env?: string;
  flag?: string;
  /** Russian: what it does and when to change it. */
  about: string;
  /** English: the same. */
  en: string;
  /** Shown masked by `evva-companion settings` (may hold a password). */
  secret?: boolean;
}

/** Every key of SettingsFile, documented, from the table (main/core/table.ts). */
export const SETTING_SPECS: SettingSpec[] = ROWS.map(({ key, entry: e }) => ({
  key, type: typeText(e), default: defaultText(e), about: e.ru, en: e.en,
  ...(e.unit ? { unit: e.unit } : {}), ...(e.env ? { env: e.env } : {}), ...(e.flag ? { flag: e.flag } : {}), ...(e.secret ? { secret: true } : {}),
}));

/** Environment variables read besides those of SETTING_SPECS. */
export const OTHER_ENV: Array<{ name: string; about: string }> = [
  { name: 'EVVA_DATA_DIR', about: 'Папка данных (как --data-dir): settings.json, device.json, local-api.json, журналы.' },
  { name: 'HTTPS_PROXY, HTTP_PROXY (и строчными)', about: 'Прокси, если в настройках proxy не задан; прокси:порт без схемы понимается как http://прокси:порт. Неверное значение останавливает запуск с сообщением, где названа переменная.' },
  { name: 'NO_PROXY', about: 'Адреса, к которым ходить без прокси: имена, суффиксы (.corp), IP, :порт, или *.' },
];

/** The settings in force: every key of settings.json under its own name and unit (SettingValues), plus where they came from. */
export interface Settings extends SettingValues {
  dataDir: string;
  /** Where each key's effective value came from (keys of SETTING_SPECS, plus dataDir). */
  sources: Record<string, SettingSource>;
}

/** The feed's settings after defaults (docs/feed.md, "Settings"), named and in units as in settings.json. */
export type FeedConfig = SettingValues['feed'];

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
  // The variables and flags are the table's (only top-level keys have them); numbers arrive as text.
  const given = (name: 'env' | 'flag', raw: (e: Entry, key: string) => unknown) => pick(Object.fromEntries(ROWS.filter((r) => r.entry[name]).map(({ key, entry: e }) => {
    const v = raw(e, key);
    return [key, typeof v === 'string' && e.schema instanceof z.ZodNumber ? num(v, e[name]!) : v];
  })));
  const fromEnv = check(SettingsFile, given('env', (e) => env[e.env!]), 'в переменных окружения', 'env');
  // The proxy variables other programs share are validated like ours, naming the variable.
  for (const name of PROXY_ENV_VARS) {
    const v = env[name];
    if (v && v.trim() && normalizeProxy(v) === null) throw new SettingsError(badProxyText(`Переменная окружения ${name}`, v));
  }
  // A boolean flag is only ever present (true); absent leaves the file's value.
  const fromFlags = check(SettingsFile, given('flag', (_e, key) => (flags as Record<string, unknown>)[key] || undefined), 'в параметрах командной строки', 'flag');
  const sources: Record<string, SettingSource> = {
    dataDir: flags.dataDir !== undefined ? 'flag' : env.EVVA_DATA_DIR !== undefined ? 'env' : 'default',
  };
  const values: Record<string, unknown> = {};
  for (const { key, path: [top, sub] } of ROWS) {
    const at = (o: Record<string, unknown>): unknown => (sub ? (o[top] as Record<string, unknown> | undefined)?.[sub] : o[top]);
    const layers: Array<[SettingSource, unknown]> = [['flag', at(fromFlags)], ['env', at(fromEnv)], ['file', at(file)], ['default', at(DEFAULTS)]];
    const [source, value] = layers.find(([, v]) => v !== undefined)!;
    sources[key] = source;
    // Copied, so a module that changes its list cannot change the frozen default or the next load.
    const own = Array.isArray(value) ? [...(value as unknown[])] : value;
    if (sub) ((values[top] ??= {}) as Record<string, unknown>)[sub] = own;
    else values[top] = own;
  }
  const v = values as unknown as SettingValues;
  return { ...v, dataDir, frontUrl: v.frontUrl ? new URL(v.frontUrl).origin : null, sources };
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

/** The effective value of one SETTING_SPECS key (the same name and unit as in settings.json); secrets masked when asked. */
export function effectiveValue(s: Settings, key: string, mask = true): unknown {
  const [top, sub] = key.split('.') as [string, string | undefined];
  const at = (s as unknown as Record<string, unknown>)[top];
  const v = sub ? (at as Record<string, unknown> | undefined)?.[sub] : at;
  return mask && typeof v === 'string' && SETTING_SPECS.find((x) => x.key === key)?.secret ? maskUrl(v) : v;
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
