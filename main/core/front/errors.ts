/**
 * Typed failures of talking to the iiko Front Web API plugin, each with the
 * Russian explanation a sysadmin reads and what to do about it.
 */
import type { Problem } from '../../../protocol/local.ts';
import { portOf } from '../../../protocol/url.ts';

// The failure type itself is part of the tunnel↔plugin contract (main/core/upstream.ts), so the tunnel can
// classify it without importing front/; named here too, as front/ and its callers always have.
export { FrontError, isFrontError, type FrontErrorCode } from '../upstream.ts';
import { FrontError, isFrontError } from '../upstream.ts';

/** The person-facing explanation of a plugin failure at `url` (a port is named when known). */
export function explain(err: unknown, url: string | null): Problem {
  const port = portOf(url);
  const where = port ? `на порту ${port}` : 'на этом компьютере';
  const e = isFrontError(err) ? err : new FrontError('unreachable', err instanceof Error ? err.message : String(err));
  switch (e.code) {
    case 'unreachable':
      return {
        code: e.code,
        message: `iikoFront не отвечает ${where}.`,
        hint: 'Проверьте, что iikoFront запущен и плагин Front Web API установлен. Если плагин настроен на другой порт, укажите его в настройках.',
        messageEn: `iikoFront does not answer ${port ? `on port ${port}` : 'on this PC'}. Check that iikoFront is running and the Front Web API plugin is installed.`,
      };
    case 'timeout':
      return {
        code: e.code,
        message: `Плагин Front Web API ${where} принял запрос, но не ответил вовремя.`,
        hint: 'iikoFront может быть перегружен или завис. Если так продолжается несколько минут, перезапустите iikoFront.',
        messageEn: 'The Front Web API plugin accepted the request but did not answer in time.',
      };
    case 'unlicensed':
      return {
        code: e.code,
        message: 'Плагин Front Web API отказал во входе: нет свободной лицензии.',
        hint: 'Проверьте лицензию «iikoAPIFront Web» (WebFront API) у вашего iiko-интегратора. Закройте другие программы, которые подключаются к плагину, или перезапустите iikoFront, чтобы освободить лицензию.',
        messageEn: 'The Front Web API plugin refused the login: no free licence slot.',
      };
    case 'bad_response':
      return {
        code: e.code,
        message: `Плагин Front Web API ${where} прислал непонятный ответ${e.detail ? ` (${e.detail})` : ''}.`,
        hint: 'Обычно это сбой плагина. Перезапустите iikoFront; если не поможет, переустановите плагин Front Web API.',
        messageEn: `The Front Web API plugin sent a response that could not be read${e.detail ? ` (${e.detail})` : ''}.`,
      };
    case 'http':
      return {
        code: e.code,
        message: `Плагин Front Web API ответил ошибкой${e.status ? ` ${e.status}` : ''}.`,
        hint: 'Обычно это временно. Если ошибка повторяется, перезапустите iikoFront.',
        messageEn: `The Front Web API plugin answered with an error${e.status ? ` ${e.status}` : ''}.`,
      };
    case 'auth':
      return {
        code: e.code,
        message: 'Плагин Front Web API не принимает ключ сразу после входа.',
        hint: 'Перезапустите iikoFront. Если не поможет, обратитесь в поддержку EVVA.',
        messageEn: 'The plugin rejects the session key right after login.',
      };
    case 'too_large':
      return {
        code: e.code,
        message: `Плагин Front Web API ${where} прислал слишком большой ответ; компаньон не стал читать его целиком.`,
        hint: 'Обычно это сбой плагина: перезапустите iikoFront. Если ответы такого размера ожидаемы (очень большое меню или день заказов), сообщите в поддержку EVVA.',
        messageEn: `The Front Web API plugin sent an answer too large to read whole${e.detail ? ` (${e.detail})` : ''}.`,
        command: 'в settings.json: "frontMaxAnswerBytes": <байт> (предел ответа плагина), затем перезапуск',
      };
    case 'not_plugin':
      return {
        code: e.code,
        message: `${port ? `Порт ${port}` : 'Этот адрес'} занят другой программой, это не плагин Front Web API.`,
        hint: 'Уточните порт плагина у того, кто его устанавливал, и укажите его в настройках.',
        messageEn: `${port ? `Port ${port}` : 'That address'} is used by another program, not the Front Web API plugin.`,
      };
    case 'not_found':
      return {
        code: e.code,
        message: 'Плагин Front Web API не найден на этом компьютере.',
        hint: 'Запустите iikoFront и проверьте, что открывается страница http://localhost:9042. Если плагин установлен на другой порт, укажите адрес в настройках.',
        messageEn: 'The Front Web API plugin was not found on this PC.',
      };
  }
}
