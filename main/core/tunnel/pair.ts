/**
 * Pairing: exchanges a code from EVVA for this device's token and keeps it in
 * `<dataDir>/device.json`, readable by the owner only. (The desktop issue moves
 * the token into the OS keychain.)
 */
import fs from 'node:fs';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import type { Problem } from '../../../protocol/local.ts';
import { ErrorBody, normalizePairingCode, PairResponse } from '../../../protocol/relay.ts';
import { readJsonFile, writePrivateFile } from '../files.ts';
import { TunnelError, relayEndpoints, tunnelProblem } from './problems.ts';
import { proxyFor } from './proxy.ts';

export const DEVICE_FILE = 'device.json';
/** The pairing call must answer within this. */
export const PAIR_TIMEOUT_MS = 15_000;

export const DeviceFile = z.object({
  relayUrl: z.string().min(1),
  venueId: z.string().min(1),
  /** The venue's name in EVVA, when the relay said it (pairings before issue 20 have none). */
  venueName: z.string().max(200).optional(),
  deviceToken: z.string().min(20),
  pairedAt: z.string(),
});
export type DeviceFile = z.infer<typeof DeviceFile>;

export interface PairOptions {
  /** The code as the person typed it; case, spaces and the dash are forgiven. */
  code: string;
  relayUrl: string;
  dataDir: string;
  companion: { version: string; hostname: string };
  proxy?: string | null;
  env?: NodeJS.ProcessEnv;
  allowInsecure?: boolean;
  /** Extra trusted CA (PEM) for a relay with a private certificate. */
  ca?: string | Buffer;
  /** How long the relay has to answer (default PAIR_TIMEOUT_MS). */
  timeoutMs?: number;
}

const pairProblem = (code: string, message: string, hint: string, messageEn: string, command?: string): Problem => ({ code, message, hint, messageEn, ...(command ? { command } : {}) });
/** What the CLI adds to a pairing hint: the window's «Настройка» is the UI's way, this is the command line's. */
const PAIR_AGAIN = 'evva-companion pair КОД --relay-url https://…';

/**
 * Pairs this companion with a venue. On success device.json holds the new
 * token (mode 0600, written atomically) and any previous pairing is replaced.
 * Throws TunnelError whose Problem says, in Russian, what to do.
 */
export async function pair(opts: PairOptions): Promise<{ venueId: string; relayUrl: string; venueName?: string }> {
  const ends = relayEndpoints(opts.relayUrl, opts.allowInsecure);
  const pretty = normalizePairingCode(opts.code);
  if (!pretty) throw new TunnelError(malformedCode(opts.code));
  // The relay spends the code once: make sure the token can be kept before asking for it.
  checkWritable(opts.dataDir);
  const url = `${ends.httpBase}/v1/pair`;
  const proxyUrl = proxyFor(new URL(url), { proxy: opts.proxy, env: opts.env });
  // undici only for what Node's own fetch cannot do, a proxy or an extra CA: evaluating its bundle was most of what
  // `pair` cost beyond a bare start (docs/testing.md, "How long a run takes"), and most pairings need neither.
  const undici = proxyUrl || opts.ca ? await import('undici') : null;
  const dispatcher: Dispatcher | undefined = !undici ? undefined : proxyUrl
    ? new undici.ProxyAgent({ uri: proxyUrl, ...(opts.ca ? { requestTls: { ca: opts.ca } } : {}) })
    : new undici.Agent({ connect: { ca: opts.ca! } });
  let status: number;
  let body: unknown;
  const timeoutMs = opts.timeoutMs ?? PAIR_TIMEOUT_MS;
  // A plain timer, not AbortSignal.timeout(): on Node 20 that signal can be collected before it fires (nodejs/node#57736).
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error('pairing timed out')), timeoutMs);
  try {
    const init = {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ pairingCode: pretty, companion: opts.companion }),
      signal: abort.signal,
    };
    const res = undici && dispatcher ? await undici.fetch(url, { ...init, dispatcher }) : await fetch(url, init);
    status = res.status;
    body = await res.json().catch(() => null);
  } catch (e) {
    if (abort.signal.aborted) {
      const secs = Math.round(timeoutMs / 1000);
      throw new TunnelError(pairProblem('relay_timeout', `Сервер EVVA ${ends.httpBase} принял соединение, но не ответил за ${secs} с.`,
        'Проверьте адрес сервера EVVA: он должен быть ровно таким, как его дала EVVA, например https://relay.evva.ru. Возможно, по этому адресу работает другая программа или сервер перегружен. Затем повторите привязку (код действует 15 минут).',
        `The relay accepted the connection but did not answer pairing within ${secs} s.`, PAIR_AGAIN), { cause: e });
    }
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const detail = `${err.cause?.code ?? ''} ${err.cause?.message ?? err.message}`.trim();
    const tls = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(detail);
    // undici reports a refused CONNECT as "Proxy response (407) !== 200": the proxy answered, it is not down.
    const proxyStatus = proxyUrl ? /Proxy response \((\d{3})\)/i.exec(causes(e))?.[1] : undefined;
    if (proxyStatus) {
      throw new TunnelError(tunnelProblem('proxy_refused', { relayUrl: opts.relayUrl, proxy: proxyUrl, status: Number(proxyStatus), detail }), { cause: e });
    }
    const problem = tunnelProblem(tls ? 'tls_error' : proxyUrl ? 'proxy_unreachable' : 'relay_unreachable', { relayUrl: opts.relayUrl, proxy: proxyUrl, detail });
    // Pairing runs once: unlike the tunnel, nothing retries it by itself.
    if (problem.code === 'relay_unreachable') {
      problem.hint = 'Проверьте адрес сервера EVVA и что на этом компьютере работает интернет; в сети с прокси укажите его в разделе «Настройки». Затем повторите привязку.';
      problem.command = `${PAIR_AGAIN} [--proxy http://прокси:порт]`;
    }
    throw new TunnelError(problem, { cause: e });
  } finally {
    clearTimeout(timer);
    await dispatcher?.close().catch(() => {});
  }

  if (status === 200) {
    const ok = PairResponse.safeParse(body);
    if (!ok.success) {
      throw new TunnelError(pairProblem('relay_bad_answer', 'Сервер EVVA ответил непонятно.',
        'Проверьте адрес сервера EVVA. Если он верный, сообщите в поддержку EVVA.', 'The relay answered pairing with an unexpected body.', PAIR_AGAIN));
    }
    const device: DeviceFile = {
      relayUrl: ends.httpBase, venueId: ok.data.venueId, ...(ok.data.venueName ? { venueName: ok.data.venueName } : {}),
      deviceToken: ok.data.deviceToken, pairedAt: new Date().toISOString(),
    };
    try {
      writePrivateFile(join(opts.dataDir, DEVICE_FILE), `${JSON.stringify(device, null, 2)}\n`);
    } catch (e) {
      // The relay keeps the previous token valid until the new one connects, so a running tunnel goes on.
      throw new TunnelError(pairProblem('device_write_failed', `Привязка получена, но её не удалось сохранить в папке ${opts.dataDir} (${(e as NodeJS.ErrnoException).code ?? 'ошибка'}).`,
        'Прежняя привязка, если она была, продолжает работать. Освободите место на диске или дайте права на запись в папку, получите новый код в EVVA и привяжите компаньон снова.',
        'Paired, but device.json could not be written; the previous token stays valid.', PAIR_AGAIN), { cause: e });
    }
    return { venueId: device.venueId, relayUrl: device.relayUrl, ...(device.venueName ? { venueName: device.venueName } : {}) };
  }
  const err = ErrorBody.safeParse(body);
  throw new TunnelError(pairFailure(status, err.success ? err.data.error : null));
}

/** The messages of an error and its causes, innermost last (undici nests the useful one two levels down). */
function causes(e: unknown): string {
  const out: string[] = [];
  for (let c = e, i = 0; c instanceof Error && i < 5; c = c.cause, i++) out.push(c.message);
  return out.join(' <- ');
}

/**
 * Throws TunnelError (in Russian, naming the folder) unless device.json can be
 * written in `dataDir`: the folder takes a new file and device.json, if there,
 * is a file that can be replaced.
 */
export function checkWritable(dataDir: string): void {
  const probe = join(dataDir, `.pair-check.${process.pid}.tmp`);
  try {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(probe, 'x', { mode: 0o600 });
    fs.unlinkSync(probe);
    const st = fs.statSync(join(dataDir, DEVICE_FILE), { throwIfNoEntry: false });
    if (st && !st.isFile()) throw Object.assign(new Error(`${DEVICE_FILE} is not a file`), { code: 'EISDIR' });
  } catch (e) {
    try { fs.unlinkSync(probe); } catch { /* never written */ }
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new TunnelError(pairProblem('data_dir_unwritable', `Нельзя сохранить привязку: нет доступа на запись к папке данных ${dataDir} (${code}).`,
      `Код привязки не потрачен. Дайте этому пользователю права на запись в папку (и проверьте, что на диске есть место и ${DEVICE_FILE} в ней — обычный файл), затем повторите привязку.`,
      `The data dir ${dataDir} is not writable (${code}); the relay was not contacted.`, `${PAIR_AGAIN} [--data-dir ДРУГАЯ_ПАПКА]`), { cause: e });
  }
}

/** A code that cannot be a pairing code: refused before anything is contacted. */
export function malformedCode(typed: string): Problem {
  return pairProblem('code_malformed', `Код привязки «${typed.slice(0, 40)}» записан неверно.`,
    'Код состоит из 8 латинских букв и цифр, например K7QF-2MXD (буквы O и I и цифры 0 и 1 в нём не встречаются). Проверьте код и введите его снова.',
    'The pairing code is malformed: 8 letters and digits, e.g. K7QF-2MXD.');
}

/** The Problem for a pairing the relay refused (exported for the text tests). */
export function pairFailure(status: number, error: string | null): Problem {
  const newCode = 'Попросите новый код в личном кабинете EVVA или у поддержки EVVA и введите его.';
  if (status === 404 && (error === 'invalid_code' || error === null)) {
    return pairProblem('code_invalid', 'Такого кода привязки нет.', `Проверьте код: он показан в личном кабинете EVVA. Если код верный, возможно, его заменили новым. ${newCode}`, 'No such pairing code.', PAIR_AGAIN);
  }
  if (status === 410) return pairProblem('code_expired', 'Срок действия кода привязки истёк (код действует 15 минут).', newCode, 'The pairing code has expired.', PAIR_AGAIN);
  if (status === 409) return pairProblem('code_used', 'Этот код привязки уже использован.', `Каждый код действует один раз. ${newCode}`, 'The pairing code was already used.', PAIR_AGAIN);
  if (status === 429) {
    return pairProblem('rate_limited', 'Слишком много попыток привязки подряд.', 'Подождите минуту и попробуйте снова. Проверьте код перед вводом.', 'Too many pairing attempts; wait a minute.');
  }
  return pairProblem('relay_error', `Сервер EVVA не смог выполнить привязку (код ${status}).`,
    'Проверьте адрес сервера EVVA и попробуйте ещё раз через несколько минут. Если не получается, сообщите в поддержку EVVA.',
    `Pairing failed with HTTP ${status}${error ? ` (${error})` : ''}.`, PAIR_AGAIN);
}

/**
 * The stored pairing, or null when this companion was never paired. Throws
 * TunnelError (in Russian: pair again) when the file exists but is unreadable or invalid.
 */
export function loadDevice(dataDir: string): DeviceFile | null {
  const file = join(dataDir, DEVICE_FILE);
  let raw: unknown;
  try {
    raw = readJsonFile(file);
  } catch (e) {
    throw new TunnelError(deviceBroken(file), { cause: e });
  }
  if (raw === null) return null;
  const parsed = DeviceFile.safeParse(raw);
  if (!parsed.success) throw new TunnelError(deviceBroken(file));
  return parsed.data;
}

function deviceBroken(file: string): Problem {
  return pairProblem('device_file_invalid', `Файл привязки ${file} повреждён.`,
    'Удалите этот файл и привяжите компаньон заново с новым кодом от EVVA (раздел «Настройка»).',
    `The pairing file ${file} is unreadable or invalid.`, PAIR_AGAIN);
}
