/**
 * What went wrong with the tunnel or pairing, as a person reads it: Russian
 * message, Russian hint (what to do), English for support. One place, so the
 * wording stays consistent between the status screen, the CLI and the logs.
 */
import type { Problem } from '../../../protocol/local.ts';
import { isLoopbackHost } from '../../../common/loopback.ts';

export type TunnelProblemCode =
  | 'relay_unreachable' | 'token_refused' | 'proxy_refused' | 'proxy_unreachable' | 'tls_error'
  | 'insecure_url' | 'bad_relay_url' | 'replaced' | 'protocol' | 'relay_error' | 'link_dead';

export class TunnelError extends Error {
  constructor(readonly problem: Problem, options?: { cause?: unknown }) {
    super(problem.messageEn ?? problem.message, options);
    this.name = 'TunnelError';
  }
}

/** The Problem for a tunnel failure; `detail` is technical and goes to messageEn only. */
export function tunnelProblem(code: TunnelProblemCode, ctx: { relayUrl?: string; proxy?: string | null; status?: number; detail?: string } = {}): Problem {
  const relay = ctx.relayUrl ? hostOf(ctx.relayUrl) : 'сервер EVVA';
  const d = ctx.detail ? ` (${ctx.detail})` : '';
  switch (code) {
    case 'relay_unreachable':
      return {
        code,
        message: `Не удаётся связаться с сервером EVVA ${relay}.`,
        hint: 'Проверьте, что на этом компьютере работает интернет. Если интернет есть, исходящие соединения может блокировать файрвол или антивирус; в сети с прокси-сервером укажите его в настройках. Компаньон переподключится сам.',
        messageEn: `Cannot reach the EVVA relay ${relay}${d}.`,
      };
    case 'token_refused':
      return {
        code,
        message: 'Сервер EVVA не принял ключ этого устройства: привязка отозвана или заменена.',
        hint: 'Получите новый код привязки в личном кабинете EVVA или у поддержки и введите его в разделе «Настройка».',
        messageEn: `The relay refused the device token${d}; pair again with a new code.`,
        command: 'evva-companion pair КОД',
      };
    case 'proxy_refused':
      return {
        code,
        message: `Прокси-сервер отказал в соединении с сервером EVVA${ctx.status ? ` (код ${ctx.status})` : ''}.`,
        hint: ctx.status === 407
          ? 'Прокси требует авторизацию: укажите логин и пароль в адресе прокси (http://логин:пароль@прокси:порт) или попросите администратора сети разрешить доступ.'
          : `Попросите администратора сети разрешить исходящие соединения к ${relay} через прокси, или проверьте адрес прокси в настройках.`,
        messageEn: `The proxy refused the CONNECT to the relay${ctx.status ? ` (status ${ctx.status})` : ''}${d}.`,
      };
    case 'proxy_unreachable':
      return {
        code,
        message: `Прокси-сервер ${ctx.proxy ? hostOf(ctx.proxy) : ''} не отвечает.`,
        hint: 'Проверьте адрес прокси в разделе «Настройки». Если прокси не нужен, уберите его.',
        messageEn: `The proxy does not answer${d}.`,
        command: 'evva-companion settings (откуда взят прокси: параметр --proxy, переменные HTTPS_PROXY / NO_PROXY или settings.json)',
      };
    case 'tls_error':
      return {
        code,
        message: `Не удалось установить защищённое соединение с ${relay}: сертификат не прошёл проверку.`,
        hint: 'Проверьте дату и время на компьютере. Если в сети есть прокси или антивирус, который проверяет HTTPS, добавьте адрес сервера EVVA в исключения.',
        messageEn: `TLS to the relay failed${d}.`,
      };
    case 'insecure_url':
      return {
        code,
        message: `Адрес сервера EVVA ${ctx.relayUrl ?? ''} использует незащищённое соединение.`,
        hint: 'Укажите адрес ровно так, как его дала EVVA: он начинается с https://.',
        messageEn: 'The EVVA server address uses an unencrypted connection (http:// or ws://); use the https:// address EVVA gave.',
        command: 'evva-companion run --allow-insecure (только для проверки: разрешает незашифрованный адрес)',
      };
    case 'bad_relay_url':
      return {
        code,
        message: `Адрес сервера EVVA указан неверно: ${ctx.relayUrl ?? ''}.`,
        hint: 'Адрес должен выглядеть так: https://relay.evva.ru',
        messageEn: `Invalid relay URL${d}.`,
      };
    case 'replaced':
      return {
        code,
        message: 'Другой компаньон подключился к EVVA с ключом этого устройства, и сервер переключился на него.',
        hint: 'На одно заведение должен работать один компаньон. Остановите лишний экземпляр (на другом компьютере или второй запуск на этом). Этот компаньон попробует снова через минуту.',
        messageEn: 'Another companion connected with this device token and took over the venue.',
      };
    case 'protocol':
      return {
        code,
        message: 'Сервер EVVA и компаньон не поняли друг друга.',
        hint: 'Обновите компаньон до последней версии. Если ошибка не пройдёт, сообщите в поддержку EVVA.',
        messageEn: `Tunnel protocol error${d}.`,
      };
    case 'relay_error':
      return {
        code,
        message: `Сервер EVVA ${relay} отказал в подключении${ctx.status ? ` (код ${ctx.status})` : ''}.`,
        hint: 'Обычно это временно: компаньон переподключится сам. Если не проходит дольше 10 минут, сообщите в поддержку EVVA.',
        messageEn: `The relay refused the tunnel${ctx.status ? ` with status ${ctx.status}` : ''}${d}.`,
      };
    case 'link_dead':
      return {
        code,
        message: 'Связь с сервером EVVA пропала (нет ответа).',
        hint: 'Компаньон переподключается сам. Если так повторяется часто, проверьте стабильность интернета.',
        messageEn: `The tunnel went silent and was closed${d}.`,
      };
  }
}

export interface RelayEndpoints {
  /** The HTTP(S) base, e.g. https://relay.evva.ru (for /v1/pair). */
  httpBase: string;
  /** The WebSocket URL of the tunnel, e.g. wss://relay.evva.ru/v1/tunnel. */
  tunnelUrl: string;
  secure: boolean;
}

/**
 * Normalises a relay URL given as http(s):// or ws(s):// (a path is kept as a
 * prefix). Throws TunnelError for a malformed URL, and for plain http/ws to a
 * non-loopback host unless `allowInsecure`.
 */
export function relayEndpoints(relayUrl: string, allowInsecure = false): RelayEndpoints {
  let u: URL;
  try {
    u = new URL(relayUrl);
  } catch {
    throw new TunnelError(tunnelProblem('bad_relay_url', { relayUrl, detail: 'unparseable' }));
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol) || u.username || u.password || u.search || u.hash) {
    throw new TunnelError(tunnelProblem('bad_relay_url', { relayUrl, detail: 'expected http(s):// or ws(s):// without credentials or query' }));
  }
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  if (!secure && !allowInsecure && !isLoopbackHost(u.hostname)) throw new TunnelError(tunnelProblem('insecure_url', { relayUrl }));
  const prefix = u.pathname.replace(/\/+$/, '');
  const httpBase = `${secure ? 'https' : 'http'}://${u.host}${prefix}`;
  return { httpBase, tunnelUrl: `${secure ? 'wss' : 'ws'}://${u.host}${prefix}/v1/tunnel`, secure };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
