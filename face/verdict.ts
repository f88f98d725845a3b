/**
 * The one verdict on the companion's state: which situation the venue is in,
 * and from it the level (`status --check`, the CLI's first line, the `level`
 * field of /api/status), the tone (the tray icon, the window's colour, the
 * support console's list), the sentence and what to do (the tooltip, the
 * window's first line, the CLI, the console). Nothing else judges the state:
 * every reader derives from `judge`, so they cannot disagree
 * (tests/unit/companion/verdict.test.ts walks every state through all of them).
 *
 * The situations are tried in order, the first that holds wins. Every red one
 * comes before every amber or grey one, so the level is the worst that holds:
 *  - error (red): the pairing was revoked or its file is unusable; the plugin
 *    is down or unlicensed; the link to EVVA is down; the outbox cannot store
 *    (disk); the orders cannot be read from the plugin; a payment EVVA PAY took
 *    did not match its order or the order was deleted (the guest may have paid
 *    twice);
 *  - warn (grey): never paired; (amber) connecting; the plugin not yet checked;
 *    payments waiting for the cashier to close their orders with EVVAP; the
 *    companion's log lost to a full disk (everything still relays);
 *  - ok (green): none of these.
 * Optional blocks (feed, payments, logs) are read defensively: absent means
 * "no data", never a problem.
 */
import type { Level, Status } from '../protocol/local.ts';
import { strings, type Lang } from './strings.ts';

/** green: working; amber: degraded but relaying; red: not relaying; grey: not set up. */
export type Tone = 'green' | 'amber' | 'red' | 'grey';

/** The situations, in the order they are tried. */
export const SITUATIONS = [
  'revoked', 'pairingBroken', 'frontDown', 'frontUnlicensed', 'offline', 'diskStuck', 'ordersStuck', 'paymentAlarm',
  'unpaired', 'connecting', 'frontChecking', 'payments', 'logsLost', 'ok',
] as const;
export type Situation = (typeof SITUATIONS)[number];

/** What a situation looks like, and which button helps: diagnostics, setup, the Журнал, or none. */
const LOOK: Record<Situation, { tone: Tone; action: 'diagnostics' | 'setup' | 'journal' | null }> = {
  revoked: { tone: 'red', action: 'setup' },
  pairingBroken: { tone: 'red', action: 'setup' },
  frontDown: { tone: 'red', action: 'diagnostics' },
  frontUnlicensed: { tone: 'red', action: 'diagnostics' },
  offline: { tone: 'red', action: 'diagnostics' },
  diskStuck: { tone: 'red', action: 'diagnostics' },
  ordersStuck: { tone: 'red', action: 'diagnostics' },
  paymentAlarm: { tone: 'red', action: 'journal' },
  unpaired: { tone: 'grey', action: 'setup' },
  connecting: { tone: 'amber', action: null },
  frontChecking: { tone: 'amber', action: null },
  payments: { tone: 'amber', action: 'journal' },
  logsLost: { tone: 'amber', action: null },
  ok: { tone: 'green', action: null },
};

/** The level a tone means: grey (not set up) is a warning, not an error. */
export const LEVEL_OF_TONE: Record<Tone, Level> = { green: 'ok', amber: 'warn', grey: 'warn', red: 'error' };

/** The status as the verdict reads it: the contract, with or without the level it decides. */
export type Judged = Omit<Status, 'level'> & { level?: Level };

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/** Payments whose orders the cashier must close with EVVAP. */
export function awaitingClose(s: Judged): number {
  return s.payments ? count(s.payments.byState.notified) + count(s.payments.byState['pending-close']) : 0;
}

/** The situation the venue is in: the first that holds. */
export function judge(s: Judged): { situation: Situation; tone: Tone; level: Level } {
  const situation = situationOf(s);
  const { tone } = LOOK[situation];
  return { situation, tone, level: LEVEL_OF_TONE[tone] };
}

function situationOf(s: Judged): Situation {
  const { front, tunnel, feed } = s;
  const unpaired = tunnel.state === 'unpaired';
  if (tunnel.error?.code === 'token_refused') return 'revoked';
  // Unpaired for a reason (the pairing file is damaged or unreadable): not «never set up».
  if (unpaired && tunnel.error) return 'pairingBroken';
  if (front.state === 'down') return 'frontDown';
  if (front.state === 'unlicensed') return 'frontUnlicensed';
  if (tunnel.state === 'offline') return 'offline';
  if (feed?.state === 'failing') return 'diskStuck';
  // The plugin answers, yet its orders cannot be read: nothing flows.
  if (feed && feed.state !== 'off' && feed.pollers.some((p) => p.name === 'orders' && p.state === 'failing')) return 'ordersStuck';
  if (!unpaired && s.payments && count(s.payments.alarms) > 0) return 'paymentAlarm';
  if (unpaired) return 'unpaired';
  if (tunnel.state === 'connecting') return 'connecting';
  if (front.state === 'unknown') return 'frontChecking';
  if (awaitingClose(s) > 0) return 'payments';
  // Everything relays, but the companion's log is not kept: support would have nothing to read.
  if (s.logs?.state === 'console_only') return 'logsLost';
  return 'ok';
}

/** The status with the level the verdict gives it: what the agent publishes and the relay's console reads. */
export function withLevel<T extends Judged>(s: T): T & { level: Level } {
  return { ...s, level: judge(s).level };
}

export interface Verdict {
  situation: Situation;
  level: Level;
  tone: Tone;
  sentence: string;
  /** ISO time the situation began, when known. */
  since: string | null;
  /** One sentence saying what to do: for amber, red and grey, never for green. */
  todo: string | null;
  /** Which button helps: open diagnostics, go to setup, the Журнал, or nothing. */
  action: 'diagnostics' | 'setup' | 'journal' | null;
}

/** The verdict in words, in `lang`. */
export function verdictOf(s: Judged, lang: Lang = 'ru'): Verdict {
  const { situation, tone, level } = judge(s);
  const t = strings(lang);
  const en = lang === 'en';
  const { front, tunnel } = s;
  const words = (): { sentence: string; todo: string | null; since: string | null } => {
    switch (situation) {
      case 'revoked': return { sentence: t.sentence.revoked, todo: t.todo.unpaired, since: tunnel.since };
      case 'pairingBroken': return { sentence: t.sentence.pairingBroken, todo: (!en && tunnel.error?.hint) || t.todo.unpaired, since: tunnel.since };
      case 'frontDown': return { sentence: t.sentence.frontDown, todo: (!en && front.error?.hint) || t.todo.frontDown, since: front.since };
      case 'frontUnlicensed': return { sentence: t.sentence.frontUnlicensed, todo: (!en && front.error?.hint) || t.todo.frontDown, since: front.since };
      case 'offline': return { sentence: t.sentence.offline, todo: (!en && tunnel.error?.hint) || t.todo.offline, since: tunnel.since };
      case 'diskStuck': return { sentence: t.sentence.diskStuck, todo: t.todo.diskStuck, since: null };
      case 'ordersStuck': return { sentence: t.sentence.ordersStuck, todo: t.todo.ordersStuck, since: null };
      case 'paymentAlarm': return { sentence: t.sentence.paymentAlarm(count(s.payments?.alarms)), todo: t.todo.paymentAlarm, since: null };
      case 'unpaired': return { sentence: t.sentence.unpaired, todo: t.todo.unpaired, since: null };
      case 'connecting': return { sentence: t.sentence.connecting, todo: t.todo.connecting, since: tunnel.since };
      case 'frontChecking': return { sentence: t.sentence.frontChecking, todo: null, since: null };
      case 'payments': return { sentence: t.sentence.payments(awaitingClose(s)), todo: t.todo.payments, since: null };
      case 'logsLost': return { sentence: t.sentence.logsLost, todo: t.todo.logsLost, since: null };
      case 'ok': return { sentence: t.sentence.ok, todo: null, since: latest(front.since, tunnel.since) };
    }
  };
  return { situation, level, tone, ...words(), action: LOOK[situation].action };
}

function latest(a: string | null, b: string | null): string | null {
  if (!a) return b;
  if (!b) return a;
  return a > b ? a : b;
}
