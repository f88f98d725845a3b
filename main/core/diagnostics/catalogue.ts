/**
 * What each diagnostics check finds, Russian first with its English twin
 * beside it, so the two can never drift apart (the report's frame around
 * them, the words of the table, are face/strings.ts `report`). Checks return a Finding built
 * from these entries; the runner turns it into the report's Russian fields and `en`.
 */
import type { CheckId, CheckResult } from '../../../protocol/diagnostics.ts';
import { stamp } from '../../../face/face.ts';
import { strings } from '../../../face/strings.ts';

/** One text in both languages. */
export interface Text { ru: string; en: string }

/** What a check found: the result, the explanation and fix (both languages), the evidence. */
export interface Finding {
  result: CheckResult;
  explanation: Text;
  fix?: Text;
  /** What helps at the command line, for the CLI and report.txt (the window shows `fix` only). */
  command?: string;
  evidence?: Record<string, unknown>;
}

const t = (ru: string, en: string): Text => ({ ru, en });
/** A time from iiko as a person reads it; what does not parse is shown as iiko wrote it. */
const dated = (at: string | null, lang: 'ru' | 'en'): string | null => (at === null ? null : Number.isNaN(Date.parse(at)) ? at : stamp(at, lang));

/** The guide's router step, quoted where a port must be forwarded by hand. */
const ROUTER_HINT = t(
  'Либо восстановите связь с EVVA (тогда роутер настраивать не нужно), либо сделайте, как в инструкции EVVA: чтобы запрос по {ваш IP}:{порт} открывал ту же страницу, что и localhost:{порт}. Это настраивается в роутере; если вы не понимаете, о чём речь, обратитесь к человеку, который отвечает у вас за интернет, или в поддержку EVVA.',
  'Either restore the link to EVVA (then no router setup is needed), or do as the EVVA guide says: make {your IP}:{port} open the same page as localhost:{port}. This is a router setting; ask whoever runs the internet at the venue, or EVVA support.',
);

export const TITLES: Record<CheckId, Text> = {
  plugin: t('Плагин iikoFront Web API', 'iikoFront Web API plugin'),
  tunnel: t('Связь с EVVA (туннель)', 'Link to EVVA (tunnel)'),
  port: t('Проброс порта', 'Port forwarding'),
  staff: t('Сотрудники и курьеры', 'Staff and couriers'),
  tables: t('Посадочные места (столы)', 'Tables'),
  payment: t('Тип оплаты EVVA', 'EVVA payment type'),
  menu: t('Вложенность меню', 'Menu depth'),
  feed: t('Очередь событий для EVVA', 'Event queue to EVVA'),
  machine: t('Компьютер', 'This computer'),
};

export const timedOut = (ms: number): Finding => ({
  result: 'fail',
  explanation: t(`Проверка не закончилась за ${fmtSec(ms)}.`, `The check did not finish within ${fmtSec(ms, 'en')}.`),
});
export const crashed = (why: string): Finding => ({
  result: 'fail',
  explanation: t(`Проверка сломалась: ${why}. Подробности в журнале.`, `The check failed: ${why}. See the log.`),
});
/** A check that needs the plugin's data when the plugin did not give it. */
export const noPluginData = (reason: string): Finding => {
  const why = reason.replace(/\.$/, '');
  return {
    result: 'skip',
    explanation: t(`Нельзя проверить: плагин не отдал данные (${why}). Сначала исправьте проверку «Плагин».`,
      `Cannot check: the plugin did not give the data (${why}). Fix the plugin check first.`),
  };
};

export const plugin = {
  notFound: (hint?: string): Finding => ({
    result: 'fail',
    explanation: t('Плагин Front Web API не найден на этом компьютере.', 'The Front Web API plugin was not found on this computer.'),
    fix: t(hint ?? 'Проверьте, что iikoFront запущен и плагин Front Web API установлен; откройте http://localhost:9042 в браузере на этом ПК.',
      'Check that iikoFront runs and the Front Web API plugin is installed; open http://localhost:9042 in a browser on this PC.'),
  }),
  /** `problem` is the probe's own explanation, which already names the port. */
  down: (url: string, message: string, messageEn: string | undefined, hint?: string): Finding => ({
    result: 'fail',
    explanation: t(message, messageEn ?? `The plugin at ${url} does not answer.`),
    fix: t(hint ?? 'Проверьте, что iikoFront запущен и плагин Front Web API работает.', 'Check that iikoFront runs and the plugin works.'),
  }),
  unlicensed: (url: string): Finding => ({
    result: 'fail',
    explanation: t(`Плагин на ${url} отказал во входе: нет свободной лицензии (WebFront API).`, `The plugin at ${url} refused the login: no free licence slot (WebFront API).`),
    fix: t('Закройте другие программы, подключённые к плагину, или купите лицензию WebFront API у вашего интегратора iiko.',
      'Close other programs using the plugin, or buy a WebFront API licence from your iiko integrator.'),
  }),
  up: (url: string, latencyMs: number, version: string | undefined): Finding => ({
    result: 'ok',
    explanation: t(`Плагин отвечает на ${url} за ${latencyMs} мс${version ? `, версия ${version}` : ', версию плагин не показывает'}.`,
      `The plugin answers at ${url} in ${latencyMs} ms${version ? `, version ${version}` : '; it does not show its version'}.`),
  }),
  cloud: (url: string, latencyMs: number, version: string): Finding => ({
    result: 'warn',
    explanation: t(`Плагин отвечает на ${url} за ${latencyMs} мс, версия iikoFront ${version}. Для версии 7.7.1 и выше EVVA рекомендует iiko Cloud API: заказы приходят быстрее, синхронизируются скидки, EVVA сама проводит оплату и закрывает заказы.`,
      `The plugin answers at ${url} in ${latencyMs} ms, iikoFront ${version}. For 7.7.1 and above EVVA recommends the iiko Cloud API: faster orders, discounts synced, payments and closing done by EVVA.`),
    fix: t('Обратитесь к интегратору iiko за лицензией iiko Cloud (transport) и API-ключом и подключите заведение к EVVA через Cloud API; компаньон тогда не нужен.',
      'Get an iiko Cloud (transport) licence and API key from your iiko integrator and connect the venue through the Cloud API; the companion is then not needed.'),
  }),
};

export const tunnel = {
  unpaired: (): Finding => ({
    result: 'warn',
    explanation: t('Компаньон не привязан к заведению в EVVA: туннеля нет.', 'The companion is not paired with an EVVA venue: no tunnel.'),
    fix: t('Получите код привязки в EVVA и введите его в разделе «Настройка».', 'Get a pairing code from EVVA and enter it under “Setup”.'),
    command: 'evva-companion pair КОД --relay-url АДРЕС',
  }),
  offline: (message: string, hint?: string): Finding => ({
    result: 'fail',
    explanation: t(`Нет связи с EVVA: ${message}`, `No link to EVVA: ${message}`),
    fix: t(hint ?? 'Проверьте интернет на этом компьютере; компаньон переподключается сам.', 'Check the internet on this computer; the companion reconnects by itself.'),
  }),
  connecting: (): Finding => ({
    result: 'warn',
    explanation: t('Связь с EVVA устанавливается.', 'The link to EVVA is being set up.'),
    fix: t('Подождите несколько секунд и запустите проверку снова.', 'Wait a few seconds and run the checks again.'),
  }),
  skewed: (skewSec: number): Finding => ({
    result: 'warn',
    explanation: t(`Часы этого компьютера расходятся с сервером EVVA на ${skewSec} с (допустимо 60 с). Время заказов и оплат будет записано неверно.`,
      `This computer's clock differs from the EVVA server by ${skewSec} s (60 s allowed). Order and payment times will be wrong.`),
    fix: t('Включите синхронизацию времени в Windows (Параметры → Время и язык → Синхронизировать).', 'Turn on time sync in Windows (Settings → Time & language → Sync now).'),
  }),
  flapping: (n: number): Finding => ({
    result: 'warn',
    explanation: t(`Связь с EVVA за последний час прерывалась ${n} раз.`, `The link to EVVA dropped ${n} times in the last hour.`),
    fix: t('Проверьте стабильность интернета (Wi-Fi, кабель, роутер).', 'Check that the internet connection is stable (Wi-Fi, cable, router).'),
  }),
  up: (rttMs: number | null, venueId: string | null): Finding => ({
    result: 'ok',
    explanation: t(`Связь с EVVA есть${venueId ? `, заведение ${venueId}` : ''}${rttMs !== null ? `, задержка ${Math.round(rttMs)} мс` : ''}.`,
      `Linked to EVVA${venueId ? `, venue ${venueId}` : ''}${rttMs !== null ? `, round trip ${Math.round(rttMs)} ms` : ''}.`),
  }),
};

/** The relay says why it does not probe an address in Russian (relay/probeback.ts); the report's English says it in English. */
const REFUSAL_EN: Record<string, string> = {
  'адрес этого же компьютера': 'this same computer', 'частный или служебный адрес': 'a private or reserved address', 'не IP-адрес': 'not an IP address', 'частный адрес': 'a private address',
};

export const port = {
  openWithTunnel: (ip: string, p: number): Finding => ({
    result: 'warn',
    explanation: t(`Порт открыт в интернет, закройте его — туннель его заменяет. По адресу http://${ip}:${p}/ из интернета отвечает этот же плагин.`,
      `The port is open to the internet; close it, the tunnel replaces it. http://${ip}:${p}/ answers with this very plugin.`),
    fix: t(`Уберите проброс порта ${p} в настройках роутера: EVVA работает через туннель, а открытый порт даёт доступ к кассе любому.`,
      `Remove the forwarding of port ${p} on the router: EVVA uses the tunnel, and an open port exposes the POS to anyone.`),
  }),
  closedWithTunnel: (ip: string, p: number): Finding => ({
    result: 'ok',
    explanation: t(`Порт ${p} на адресе ${ip} из интернета закрыт, как и должно быть: EVVA работает через туннель.`,
      `Port ${p} at ${ip} is closed to the internet, as it should be: EVVA uses the tunnel.`),
  }),
  otherWithTunnel: (ip: string, p: number, status: number | undefined): Finding => ({
    result: 'warn',
    explanation: t(`На http://${ip}:${p}/ из интернета отвечает не этот плагин (${status ?? 'без кода'}): в роутере проброшен порт на другую программу.`,
      `http://${ip}:${p}/ answers from the internet, but not with this plugin (${status ?? 'no status'}): the router forwards the port elsewhere.`),
    fix: t('Если этот проброс не нужен, уберите его в настройках роутера.', 'If that forwarding is not needed, remove it on the router.'),
  }),
  refused: (ip: string, detail: string): Finding => ({
    result: 'skip',
    explanation: t(`Сервер EVVA видит ваш адрес как ${ip} (${detail}) и не проверяет такие адреса.`, `The EVVA server sees your address as ${ip} (${REFUSAL_EN[detail] ?? 'not a public address'}) and does not probe such addresses.`),
  }),
  unknown: (why: string): Finding => ({
    result: 'skip',
    explanation: t(`Проверить проброс порта не удалось: ${why}.`, `Could not check port forwarding: ${why}.`),
  }),
  noTunnel: (p: number): Finding => ({
    result: 'fail',
    explanation: t(`Нет связи с EVVA, и проверить извне порт ${p} нельзя: EVVA сейчас не может достучаться до плагина.`,
      `No link to EVVA, and port ${p} cannot be checked from outside: EVVA cannot reach the plugin now.`),
    fix: ROUTER_HINT,
  }),
  unpaired: (): Finding => ({
    result: 'skip',
    explanation: t('Компаньон не привязан к EVVA: проверять проброс порта не с кем.', 'Not paired with EVVA: nobody to check the port from.'),
  }),
};

/** Where the guide's courier setup lives in iikoOffice: the plugin cannot show it. */
const COURIER_WHERE = t(
  'Проверьте в iikoOffice: «Персонал» → «Сотрудники» → карточка каждого курьера. В правах сотрудника (или его роли) должно быть право «D_DC0 Быть курьером для доставки», и у сотрудника должен быть задан ПИН-код. Затем перечислите курьеров в настройке компаньона feed.courierCodes (табельные номера или имена, как в iiko), чтобы EVVA знала, кто из них курьер.',
  'Check in iikoOffice: Staff → Employees → each courier\'s card. The employee (or their role) must have the right "D_DC0 Deliver as a courier", and a PIN must be set. Then list the couriers in the companion\'s setting feed.courierCodes (personal numbers or names as in iiko) so EVVA knows who they are.',
);

export const staff = {
  unknownRoles: (count: number): Finding => ({
    result: 'warn',
    explanation: t(`Плагин показал ${count} сотрудников, но он не показывает ни права, ни ПИН-коды: через плагин нельзя узнать, кто курьер (право D_DC0) и у кого есть ПИН-код. Пока заведение не указало курьеров, EVVA получает сотрудников с пометкой «курьер: неизвестно».`,
      `The plugin listed ${count} staff, but it shows neither rights nor PINs: who is a courier (right D_DC0) and who has a PIN cannot be read through it. Until the venue lists its couriers, EVVA gets the staff marked "courier: unknown".`),
    fix: COURIER_WHERE,
  }),
  listedNone: (listed: number): Finding => ({
    result: 'fail',
    explanation: t(`В настройке feed.courierCodes указано курьеров: ${listed}, но ни одного из них нет среди сотрудников, которых показывает плагин.`,
      `feed.courierCodes lists ${listed} couriers, but none of them is among the staff the plugin shows.`),
    fix: t('Сверьте табельные номера или имена в feed.courierCodes с карточками сотрудников в iikoOffice («Персонал» → «Сотрудники»).',
      'Match the personal numbers or names in feed.courierCodes with the employee cards in iikoOffice (Staff → Employees).'),
  }),
  listedMissing: (found: number, missing: string[]): Finding => ({
    result: 'warn',
    explanation: t(`Курьеров найдено: ${found}. Не найдены среди сотрудников: ${missing.join(', ')}.`,
      `Couriers found: ${found}. Not among the staff: ${missing.join(', ')}.`),
    fix: t('Исправьте feed.courierCodes: табельный номер или имя должны совпадать с карточкой сотрудника в iikoOffice.',
      'Fix feed.courierCodes: the personal number or name must match the employee card in iikoOffice.'),
  }),
  listedOk: (count: number, couriers: number, noPhone: number): Finding => ({
    result: 'ok',
    explanation: t(`Сотрудников ${count}, курьеров по списку заведения ${couriers}${noPhone ? ` (без мобильного телефона: ${noPhone})` : ''}. Право D_DC0 и ПИН-коды плагин не показывает: их проверяют в iikoOffice.`,
      `${count} staff, ${couriers} couriers by the venue's list${noPhone ? ` (${noPhone} without a mobile phone)` : ''}. The plugin shows neither the D_DC0 right nor PINs: check them in iikoOffice.`),
    fix: COURIER_WHERE,
  }),
};

export const tables = {
  none: (all: number): Finding => ({
    result: 'fail',
    explanation: t(all ? `Все ${all} столов неактивны.` : 'В iiko нет ни одного стола.', all ? `All ${all} tables are inactive.` : 'iiko has no tables.'),
    fix: t('Настройте залы и столы в iikoOffice, затем проверьте раздел «Заведения → посадочные места» в EVVA.',
      'Set up halls and tables in iikoOffice, then check "Venues → seating" in EVVA.'),
  }),
  ok: (active: number, halls: string[], kitchens: string[]): Finding => ({
    result: 'ok',
    explanation: t(`Активных столов ${active}${halls.length ? ` в залах: ${halls.join(', ')}` : ''}.${kitchens.length ? ` Цеха и бары (не залы, в EVVA как залы не попадут): ${kitchens.join(', ')}.` : ''}`,
      `${active} active tables${halls.length ? ` in: ${halls.join(', ')}` : ''}.${kitchens.length ? ` Kitchens and bars (not halls, not sent to EVVA as halls): ${kitchens.join(', ')}.` : ''}`),
  }),
};

const EVVAP_FIX = t('В iikoOffice добавьте тип оплаты: тип «банковская карта», код EVVAP (именно так), проведение оплаты «только внешний» либо «как внешний, так и на стороне ресторана».',
  'In iikoOffice add a payment type: kind "bank card", code EVVAP (exactly), processing "external only" or "external and at the restaurant".');

export const payment = {
  wrongCode: (name: string, code: string): Finding => ({
    result: 'fail',
    explanation: t(`Тип оплаты «${name}» похож на тип EVVA, но его код «${code}», а не EVVAP: EVVA не сможет проставлять оплату.`,
      `Payment type "${name}" looks like EVVA's but its code is "${code}", not EVVAP: EVVA cannot mark payments.`),
    fix: EVVAP_FIX,
  }),
  notSeen: (closed: number): Finding => ({
    result: 'warn',
    explanation: t(`Тип оплаты EVVA (код EVVAP) не встретился ни в одном из ${closed} последних закрытых заказов. Плагин не показывает список типов оплаты, поэтому компаньон судит только по заказам: типа может не быть.`,
      `The EVVA payment type (code EVVAP) was not seen in any of the last ${closed} closed orders. The plugin does not list payment types, so the companion can only judge by orders: the type may be missing.`),
    fix: EVVAP_FIX,
  }),
  seen: (rule: 'code' | 'name', name: string, lastAt: string | null): Finding => ({
    result: 'ok',
    explanation: t(`Тип оплаты EVVA найден: «${name}» (${rule === 'code' ? 'по коду EVVAP' : 'по названию: плагин не показывает коды'}); последний заказ закрыт им ${dated(lastAt, 'ru') ?? 'неизвестно когда'}.`,
      `EVVA payment type found: "${name}" (${rule === 'code' ? 'by code EVVAP' : 'by name: the plugin shows no codes'}); last order closed with it ${dated(lastAt, 'en') ?? 'at an unknown time'}.`),
  }),
};

export const menu = {
  deep: (lifted: number, depth: number, sample: string[]): Finding => ({
    result: 'warn',
    explanation: t(`Глубина групп в меню: ${depth}, а в EVVA только 3 уровня (раздел → категория → товар). Товаров, которые поднимутся в верхние категории: ${lifted} (${sample.join(', ')}${lifted > sample.length ? ', …' : ''}).`,
      `Menu groups nest ${depth} deep; EVVA has 3 levels (section → category → item). Items that will be lifted: ${lifted} (${sample.join(', ')}${lifted > sample.length ? ', …' : ''}).`),
    fix: t('В iikoOffice (Обмен данными → Выгрузка меню) разложите товары не глубже «раздел → категория → товар», или перенесите их потом в EVVA.',
      'In iikoOffice (Data exchange → Menu export) arrange items no deeper than section → category → item, or move them in EVVA later.'),
  }),
  ok: (groups: number, products: number): Finding => ({
    result: 'ok',
    explanation: t(`Меню: ${products} товаров в ${groups} группах, не глубже трёх уровней.`, `Menu: ${products} items in ${groups} groups, no deeper than three levels.`),
  }),
};

export const feed = {
  absent: (): Finding => ({
    result: 'skip',
    explanation: t('Очередь событий (лента заказов в EVVA) проверяет только запущенный компаньон, а он сейчас не запущен.', 'Only a running companion checks the event queue (the order feed to EVVA), and it is not running now.'),
    fix: t('Запустите компаньон и повторите проверку.', 'Start the companion and run the checks again.'),
  }),
  backlog: (n: number, oldest: string | null): Finding => ({
    result: 'warn',
    explanation: t(`В очереди ${n} неотправленных событий, самое старое от ${oldest ?? '—'}.`, `${n} events wait to be sent, the oldest from ${oldest ?? '—'}.`),
    fix: t('Проверьте связь с EVVA: события уйдут сами, когда туннель восстановится.', 'Check the link to EVVA: events go out by themselves once the tunnel is back.'),
  }),
  ok: (n: number): Finding => ({
    result: 'ok',
    explanation: t(`Очередь событий: ${n} ждут отправки.`, `Event queue: ${n} waiting.`),
  }),
};

export const machine = {
  diskLow: (freeMb: number, dir: string, result: 'warn' | 'fail'): Finding => ({
    result,
    explanation: t(`На диске с папкой данных (${dir}) свободно ${freeMb} МБ.`, `${freeMb} MB free on the disk of the data folder (${dir}).`),
    fix: t('Освободите место на диске: при нехватке компаньон не сможет писать журнал и очередь событий.', 'Free some disk space: without it the companion cannot write its log and queue.'),
  }),
  clockWrong: (iso: string): Finding => ({
    result: 'fail',
    explanation: t(`Системные часы показывают ${stamp(iso, 'ru')}: это явно неверное время.`, `The system clock says ${stamp(iso, 'en')}: clearly wrong.`),
    fix: t('Установите правильные дату и время в Windows и включите синхронизацию.', 'Set the right date and time in Windows and turn on sync.'),
  }),
  ok: (freeMb: number, os: string, version: string, apiPort: number): Finding => ({
    result: 'ok',
    explanation: t(`Свободно ${freeMb} МБ, ${os}, компаньон ${version}, локальный API на порту ${apiPort}.`, `${freeMb} MB free, ${os}, companion ${version}, local API on port ${apiPort}.`),
  }),
};

export const SUMMARY = {
  ok: t('Все проверки пройдены.', 'All checks passed.'),
  // Said without «ниже»: the CLI prints the summary under the checks, the window above them.
  warn: (n: number) => t(`Есть замечания: ${n}. У каждого сказано, что делать.`, `${n} warnings, each with what to do.`),
  fail: (n: number) => t(`Есть проблемы: ${n}. EVVA не сможет полноценно работать с заведением, пока они не исправлены.`, `${n} failures: EVVA cannot fully work with the venue until they are fixed.`),
};

export const RESULT_WORD = Object.fromEntries((['ok', 'warn', 'fail', 'skip'] as const)
  .map((r) => [r, t(strings('ru').diag.result[r], strings('en').diag.result[r])])) as Record<CheckResult, Text>;

function fmtSec(ms: number, lang: 'ru' | 'en' = 'ru'): string {
  const s = (ms / 1000).toFixed(1);
  return lang === 'ru' ? `${s.replace('.', ',')} с` : `${s} s`;
}
