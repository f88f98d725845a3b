/**
 * What `evva-companion status` prints and exits with: the status as a sysadmin
 * reads it in a terminal, in the words of the one verdict (face/verdict.ts).
 * Pure, so the text is tested without a running companion; cli.ts does the asking.
 */
import type { Problem, Status } from '../../protocol/local.ts';
import { judge, verdictOf, type Situation } from '../../face/verdict.ts';

/** `status --check`: the exit code a monitoring system (Nagios, Zabbix) reads, from the one verdict (face/verdict.ts). */
export function checkExit(s: Status): 0 | 1 | 2 {
  return ({ ok: 0, warn: 1, error: 2 } as const)[judge(s).level];
}

/** The venue by its name in quotes (unless the name has its own) and its id for support, or the id alone. */
export function venueText(name: string | null | undefined, id: string): string {
  return name ? `${/[«"]/.test(name) ? name : `«${name}»`} (${id})` : id;
}

/** A problem as the CLI prints it: what happened, what to do, and the command that helps. */
export function problemLines(p: Problem, indent = ''): string[] {
  return [`${indent}${p.message}`, ...(p.hint ? [`${indent}Что делать: ${p.hint}`] : []), ...(p.command ? [`${indent}Команда: ${p.command}`] : [])];
}

/** Situations of the orders and payments the lines about the plugin and the link do not cover. */
const FEED_SITUATIONS: ReadonlySet<Situation> = new Set(['diskStuck', 'ordersStuck', 'paymentAlarm', 'payments']);

/** The status as a sysadmin reads it in a terminal: the verdict's level first, then each part. */
export function describe(s: Status): string {
  const v = verdictOf(s, 'ru');
  const head = { ok: 'всё в порядке', warn: 'требует внимания', error: 'есть проблема' }[v.level];
  const f = s.front;
  const frontLine = f.state === 'up'
    ? `работает, ${f.url}, ${f.latencyMs} мс${f.version ? `, версия ${f.version}` : ''}`
    : f.state === 'unknown' ? 'проверяется…' : f.error?.message ?? 'не отвечает';
  const lines = [`EVVA Companion ${s.version}: ${head}`, `  iikoFront (плагин Front Web API): ${frontLine}`];
  if (f.state !== 'up' && f.error?.hint) lines.push(`    Что делать: ${f.error.hint}`);
  if (f.state !== 'up' && f.error?.command) lines.push(`    Команда: ${f.error.command}`);
  const t = s.tunnel;
  const tunnelLine = {
    connected: `подключено${t.venueId ? `, заведение ${venueText(t.venueName, t.venueId)}` : ''}${t.rttMs !== null ? `, ${Math.round(t.rttMs)} мс` : ''}`,
    connecting: 'подключается…',
    offline: t.error?.message ?? 'нет связи',
    // Unpaired with a reason (revoked, replaced, damaged file) is not "never set up": say why.
    unpaired: t.error?.message ?? 'не настроена: получите код привязки в EVVA и выполните evva-companion pair КОД --relay-url АДРЕС',

  }[t.state];
  lines.push(`  Связь с EVVA: ${tunnelLine}`);
  if ((t.state === 'offline' || t.state === 'unpaired') && t.error?.hint) lines.push(`    Что делать: ${t.error.hint}`);
  if ((t.state === 'offline' || t.state === 'unpaired') && t.error?.command) lines.push(`    Команда: ${t.error.command}`);
  if (s.logs?.state === 'console_only' && s.logs.error) {
    lines.push(`  ${s.logs.error.message}`);
    if (s.logs.error.hint) lines.push(`    Что делать: ${s.logs.error.hint}`);
  }
  // Orders that do not flow and payments that need the cashier: the same words the tray and the window show.
  if (FEED_SITUATIONS.has(v.situation)) {
    lines.push(`  Заказы и оплаты: ${v.sentence}`);
    if (v.todo) lines.push(`    Что делать: ${v.todo}`);
  }
  return lines.join('\n');
}
