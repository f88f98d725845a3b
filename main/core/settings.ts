/**
 * The companion's settings: defaults, then `<data-dir>/settings.json`, then
 * the environment, then command-line flags (each overrides the one before).
 * Every value is validated; a bad one is reported by name, in Russian.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_API_PORT } from '../../protocol/local.ts';
import { DEFAULT_FRONT_PORT, DEFAULT_MODULE_ID } from '../../protocol/front.ts';
import { isLoopbackHost } from './loopback.ts';
import { DEFAULT_GATE_POLICY } from './tunnel/gate.ts';
import { DEFAULT_TUNNEL_LIMITS } from './tunnel/link.ts';

export const SETTINGS_FILE = 'settings.json';


const frontUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && isLoopbackHost(u.hostname) && (u.pathname === '/' || u.pathname === '') && !u.search && !u.username;
  } catch {
    return false;
  }
}, { message: `нужен адрес плагина на этом компьютере, например http://127.0.0.1:${DEFAULT_FRONT_PORT} (только 127.0.0.1 или localhost, без пути)` });

/** What may appear in settings.json (all optional; unknown fields are refused so typos are caught). */
export const SettingsFile = z.strictObject({
  frontUrl: frontUrl.nullable().optional(),
  /** 0 picks a free port (tests, several companions on one PC); local-api.json tells which. */
  apiPort: z.number().int().min(0).max(65535).optional(),
  moduleId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'буквы, цифры, - или _').optional(),
  probeIntervalSec: z.number().min(1).max(300).optional(),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).optional(),
  relayUrl: z.string().url().nullable().optional(),
  proxy: z.string().url().nullable().optional(),
  allowInsecure: z.boolean().optional(),
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
  }).optional(),
});
export type SettingsFile = z.infer<typeof SettingsFile>;

export interface Settings {
  dataDir: string;
  /** Plugin origin; null means "find it" (discovery). */
  frontUrl: string | null;
  apiPort: number;
  moduleId: string;
  probeIntervalMs: number;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  relayUrl: string | null;
  proxy: string | null;
  allowInsecure: boolean;
  /** What the tunnel may do (the gate's policy and the response limit); the relay sets per-request timeouts. */
  tunnel: { allowMethods: string[]; maxRequestBytes: number; maxResponseBytes: number };
  feed: FeedConfig;
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
  logLevel: 'info' as const,
  feed: {
    enabled: true, ordersIntervalMs: 1_000, staffIntervalSec: 60, tablesIntervalSec: 300, menuIntervalHours: 24,
    coalesceAbove: 1_000, evvaPaymentName: 'EVVA', paymentCloseAfterMin: 10,
  },
  tunnel: {
    allowMethods: [...DEFAULT_GATE_POLICY.allowMethods],
    maxRequestBytes: DEFAULT_GATE_POLICY.maxRequestBytes,
    maxResponseBytes: DEFAULT_TUNNEL_LIMITS.maxResponseBytes,
  },
};

/** A settings problem a person can fix: names the field and the source. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/** Where data lives when nothing says otherwise: next to Electron's userData for the same app. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'EVVA Companion');
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
  return check(SettingsFile, json, `в файле настроек ${file}`);
}

/** Merges defaults < file < env < flags and validates the result. */
export function loadSettings(flags: SettingsFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  const dataDir = path.resolve(flags.dataDir ?? env.EVVA_DATA_DIR ?? defaultDataDir(env));
  const file = readSettingsFile(dataDir);
  const fromEnv = check(SettingsFile, pick({
    frontUrl: env.EVVA_FRONT_URL,
    apiPort: num(env.EVVA_API_PORT, 'EVVA_API_PORT'),
    relayUrl: env.EVVA_RELAY_URL,
    proxy: env.EVVA_PROXY,
    logLevel: env.EVVA_LOG_LEVEL,
  }), 'в переменных окружения');
  const fromFlags = check(SettingsFile, pick({
    frontUrl: flags.frontUrl,
    apiPort: num(flags.apiPort, '--api-port'),
    relayUrl: flags.relayUrl,
    proxy: flags.proxy,
    allowInsecure: flags.allowInsecure || undefined,
    logLevel: flags.logLevel,
  }), 'в параметрах командной строки');
  const merged = { ...file, ...fromEnv, ...fromFlags, tunnel: { ...DEFAULTS.tunnel, ...file.tunnel } };
  const feed = { ...DEFAULTS.feed, ...file.feed };
  return {
    dataDir,
    frontUrl: merged.frontUrl ? new URL(merged.frontUrl).origin : null,
    apiPort: merged.apiPort ?? DEFAULTS.apiPort,
    moduleId: merged.moduleId ?? DEFAULTS.moduleId,
    probeIntervalMs: (merged.probeIntervalSec ?? DEFAULTS.probeIntervalSec) * 1000,
    logLevel: merged.logLevel ?? DEFAULTS.logLevel,
    relayUrl: merged.relayUrl ?? null,
    proxy: merged.proxy ?? null,
    allowInsecure: merged.allowInsecure ?? false,
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
    },
  };
}

const NAMES: Record<string, string> = {
  frontUrl: 'frontUrl (EVVA_FRONT_URL, --front-url)',
  apiPort: 'apiPort (EVVA_API_PORT, --api-port)',
  relayUrl: 'relayUrl (EVVA_RELAY_URL, --relay-url)',
  proxy: 'proxy (EVVA_PROXY, --proxy)',
  logLevel: 'logLevel (EVVA_LOG_LEVEL, --log-level)',
};

function check<S extends z.ZodTypeAny>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const field = i.path.join('.');
    const label = i.code === 'unrecognized_keys' ? `неизвестное поле «${i.keys.join('», «')}»` : `поле «${NAMES[field] ?? field}»`;
    return `${label}: ${i.code === 'unrecognized_keys' ? 'уберите его или исправьте опечатку' : translate(i)}`;
  });
  throw new SettingsError(`Неверные настройки ${where}: ${lines.join('; ')}.`);
}

function translate(i: z.core.$ZodIssue): string {
  if (i.code === 'custom' || i.code === 'invalid_format') return i.message;
  if (i.code === 'invalid_type') return `неверный тип значения (${i.message})`;
  if (i.code === 'too_small' || i.code === 'too_big') return `значение вне допустимых границ (${i.message})`;
  if (i.code === 'invalid_value') return `допустимые значения: ${i.values.map(String).join(', ')}`;
  return i.message;
}

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new SettingsError(`Неверные настройки: ${name} должен быть числом от 0 до 65535, а не «${v}».`);
  return Number(v);
}

function pick<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as Partial<T>;
}
