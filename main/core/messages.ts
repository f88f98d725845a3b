/**
 * The texts a person reads that are built from technical parts (the state's
 * words are face/strings.ts, the checks' main/core/diagnostics/catalogue.ts):
 * validation issues (zod), malformed addresses, what discovery found on a
 * port. Every such text is Russian and comes from here, so none of the
 * libraries' English leaks into a message (the English goes to messageEn/logs).
 */
import type { z } from 'zod';

/** One validation issue as a Russian phrase (what is wrong with the value and what is allowed). */
export function issueText(i: z.core.$ZodIssue): string {
  switch (i.code) {
    case 'custom':
      // Our own refinements carry Russian messages already.
      return i.message;
    case 'invalid_format':
      if (i.format === 'url') return 'это не адрес: нужен вид http://хост:порт';
      if (i.format === 'regex') return `значение не подходит по виду${/[а-яё]/i.test(i.message) ? ` (${i.message})` : ''}`;
      return `неверный формат значения (${i.format})`;
    case 'invalid_type':
      return `нужно ${typeName(i.expected)}`;
    case 'too_small':
      return i.origin === 'array' || i.origin === 'string'
        ? `слишком коротко: не меньше ${String(i.minimum)} ${i.origin === 'array' ? 'элементов' : 'символов'}`
        : `слишком маленькое значение: нужно не меньше ${String(i.minimum)}`;
    case 'too_big':
      return i.origin === 'array' || i.origin === 'string'
        ? `слишком длинно: не больше ${String(i.maximum)} ${i.origin === 'array' ? 'элементов' : 'символов'}`
        : `слишком большое значение: нужно не больше ${String(i.maximum)}`;
    case 'invalid_value':
      return `допустимые значения: ${i.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return `неизвестное поле «${i.keys.join('», «')}»: уберите его или исправьте опечатку`;
    case 'not_multiple_of':
      return `значение должно быть кратно ${String(i.divisor)}`;
    default:
      return 'неверное значение';
  }
}

function typeName(t: string): string {
  return ({ number: 'число', int: 'целое число', string: 'строка в кавычках', boolean: 'true или false', array: 'список [ … ]', object: 'объект { … }' } as Record<string, string>)[t]
    ?? `значение типа ${t}`;
}

/** What `evva-companion discover` says about a port that answered but is not the plugin. */
export const notPluginWhy = {
  rootStatus: (status: number) => `главная страница ответила кодом ${status}, и это не страница плагина`,
  apiStatus: (status: number) => `запрос /api/orders без ключа получил код ${status}: так отвечает не плагин (он просит ключ)`,
  noApi: () => 'на этом порту нет /api/orders: это какая-то другая программа, не плагин',
};

/** A proxy address that cannot be used, naming where it came from. */
export function badProxyText(where: string, value: string): string {
  return `${where}: «${value}» — не адрес HTTP-прокси. Укажите его как http://прокси:порт (или просто прокси:порт), например http://10.0.0.1:3128; если прокси не нужен, уберите значение.`;
}

/** A command-line parsing error (node:util parseArgs, English) as a Russian sentence naming the flag. */
export function parseErrorText(english: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(english);
  if (unknown) return `Неизвестный параметр ${unknown[1]}.`;
  const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(english);
  if (missing) return `Параметру ${missing[1]} нужно значение.`;
  const ambiguous = /Option '([^']+?)' argument is ambiguous/.exec(english);
  if (ambiguous) return `Параметру ${ambiguous[1]} нужно значение (значение, которое начинается с «-», пишется так: ${ambiguous[1]}=-…).`;
  const noValue = /Option '([^']+?)' does not take an argument/.exec(english);
  if (noValue) return `Параметр ${noValue[1]} пишется без значения.`;
  const positional = /Unexpected argument '([^']+)'/.exec(english);
  if (positional) return `Лишний аргумент «${positional[1]}».`;
  const flag = /'(-{1,2}[^' ]+)/.exec(english)?.[1];
  return `Неверные параметры${flag ? ` (${flag})` : ''}. Проверьте написание по справке.`;
}
