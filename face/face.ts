/**
 * How a Status reads to a person: the verdict (tone, the one sentence, what to
 * do: verdict.ts, the one place the state is judged) and the four cards. Pure,
 * so the status screen, the tray, the CLI, the support console and tests all
 * say the same thing. Optional blocks other parts add to the status (feed,
 * port exposure) are read defensively: absent means "no data", never 0.
 */
import type { Status } from '../protocol/local.ts';
import { strings, type Lang } from './strings.ts';
import { portOf } from '../protocol/url.ts';
import { verdictOf, type Tone, type Verdict } from './verdict.ts';

export { portOf };
export type { Tone };

/** What the feed reports in `status.feed`, when it is there (every field optional). */
export interface FeedView {
  /** Orders and payments the relay acknowledged today. */
  relayedToday?: number;
  /** When the last of them was written (not a health or staff event). */
  lastEventAt?: string | null;
  awaitingClose?: number;
  mismatches?: number;
  /** Why nothing flows now, when something stops it: the card is not green then. */
  stuck?: { why: 'disk' | 'front' | 'unlicensed' | 'orders' | 'offline' | 'connecting'; detail?: string };
  /** Events on disk waiting for the relay. */
  queued?: number;
}

export interface Card {
  id: 'front' | 'tunnel' | 'port' | 'feed';
  title: string;
  tone: Tone | 'none';
  state: string;
  detail: string | null;
}

/** The verdict (verdict.ts) and the cards that give the detail. */
export interface Face extends Verdict {
  cards: Card[];
}

/** Whole milliseconds for people (the core measures fractions). */
const ms = (v: number | null): number | null => (v === null ? null : Math.round(v));
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The feed as the cards show it, from the core's `feed` and `payments` blocks
 * and what stops orders from flowing (the disk, the plugin, the orders poller,
 * the link); null while the feed is off.
 */
export function feedOf(status: Status): FeedView | null {
  const f = status.feed;
  if (!f || f.state === 'off') return null;
  const p = status.payments;
  const orders = f.pollers.find((x) => x.name === 'orders');
  const stuck: FeedView['stuck'] = f.state === 'failing' ? { why: 'disk', ...(f.error ? { detail: f.error.message } : {}) }
    : status.front.state === 'down' ? { why: 'front' }
    : status.front.state === 'unlicensed' ? { why: 'unlicensed' }
    : orders?.state === 'failing' ? { why: 'orders', ...(orders.error ? { detail: orders.error } : {}) }
    : status.tunnel.state === 'offline' ? { why: 'offline' }
    : status.tunnel.state === 'connecting' ? { why: 'connecting' }
    : undefined;
  return {
    relayedToday: num(f.ordersToday),
    // Only an order or payment is «последний»: a health event is not news to the cashier.
    lastEventAt: f.lastOrderAt ?? null,
    awaitingClose: p ? (num(p.byState.notified) ?? 0) + (num(p.byState['pending-close']) ?? 0) : undefined,
    mismatches: p ? num(p.alarms) : undefined,
    ...(stuck ? { stuck } : {}),
    queued: num(f.backlog),
  };
}

/** Reads the status as the UI and tray show it; `time` formats an ISO time as HH:MM. */
export function faceOf(status: Status, lang: Lang, time: (iso: string) => string = hhmm): Face {
  const t = strings(lang);
  const { front, tunnel } = status;
  const feed = feedOf(status);
  const revoked = tunnel.error?.code === 'token_refused';
  const en = lang === 'en';
  const say = (p?: { message: string; messageEn?: string; hint?: string }) => (p ? (en && p.messageEn ? p.messageEn : p.message) : null);

  const port = portOf(front.url);
  const cards: Card[] = [
    {
      id: 'front', title: t.card.front,
      tone: front.state === 'up' ? 'green' : front.state === 'unknown' ? 'amber' : 'red',
      state: front.state === 'up' ? t.card.frontUp(port ?? '—', ms(front.latencyMs))
        : front.state === 'unknown' ? t.card.frontChecking
        : front.state === 'unlicensed' ? t.card.frontUnlicensed
        : front.since ? t.card.frontDownSince(time(front.since)) : (say(front.error) ?? t.card.frontChecking),
      detail: front.state === 'up'
        ? [front.version ? t.card.frontVersion(front.version) : null, front.source === 'discovery' ? t.card.frontFound : front.source === 'settings' ? t.card.frontSet : null].filter(Boolean).join(' · ') || null
        // The hero above already says what to do; the card says what happened.
        : front.state === 'unknown' ? null : say(front.error),
    },
    {
      id: 'tunnel', title: t.card.tunnel,
      tone: revoked ? 'red' : tunnel.state === 'connected' ? 'green' : tunnel.state === 'connecting' ? 'amber' : tunnel.state === 'offline' ? 'red' : 'grey',
      state: revoked ? t.card.tunnelRevoked
        : tunnel.state === 'connected' ? t.card.tunnelUp(ms(tunnel.rttMs))
        : tunnel.state === 'connecting' ? t.card.tunnelConnecting(tunnel.reconnects)
        : tunnel.state === 'offline' ? (say(tunnel.error) ?? t.card.tunnelOffline) : t.card.tunnelUnpaired,
      detail: tunnel.state === 'connected' && tunnel.venueId ? t.card.tunnelVenue(tunnel.venueName ?? tunnel.venueId)
        : tunnel.state === 'unpaired' && !revoked ? t.todo.unpaired
        : en ? null : tunnel.error?.hint ?? null,
    },
    portCard(status, lang, port),
    feedCard(feed, lang, time),
  ];
  return { ...verdictOf(status, lang), cards };
}

function portCard(status: Status, lang: Lang, port: string | null): Card {
  const t = strings(lang);
  // The diagnostics' last port check (status.port); absent until a check ran.
  const check = status.port;
  const base = { id: 'port' as const, title: t.card.port };
  if (check?.exposed === true) {
    return { ...base, tone: 'amber', state: t.card.portExposed(port ?? '—'), detail: lang === 'en' ? (check.explanationEn ?? check.explanation) : check.explanation };
  }
  const checked = check ? `${check.exposed === false ? t.card.portClosed : lang === 'en' ? (check.explanationEn ?? check.explanation) : check.explanation} (${t.card.portCheckedAt(hhmm(check.checkedAt))})` : null;
  const detail = checked ?? t.card.portExposedUnknown;
  if (status.tunnel.state === 'connected') return { ...base, tone: 'green', state: t.card.portNotNeeded, detail };
  return { ...base, tone: 'none', state: t.card.portUnknown, detail };
}

function feedCard(feed: FeedView | null, lang: Lang, time: (iso: string) => string): Card {
  const t = strings(lang);
  const base = { id: 'feed' as const, title: t.card.feed };
  if (!feed) return { ...base, tone: 'none', state: t.card.feedNoData, detail: t.card.feedOff };
  const today = feed.relayedToday !== undefined ? t.card.feedToday(feed.relayedToday, feed.lastEventAt ? time(feed.lastEventAt) : null) : t.card.feedNoData;
  const waiting = feed.awaitingClose !== undefined ? (feed.awaitingClose > 0 ? t.card.feedAwaiting(feed.awaitingClose) : t.card.feedNothingWaiting) : null;
  const mism = feed.mismatches ? t.card.feedMismatch(feed.mismatches) : null;
  if (feed.stuck) {
    // Nothing is lost (the outbox keeps it), but nothing flows: never green, and it says why.
    const why = feed.stuck.why;
    const queued = feed.queued ? t.card.feedQueued(feed.queued) : null;
    const detail = why === 'orders' ? t.card.pollerError(feed.stuck.detail) : why === 'disk' ? feed.stuck.detail ?? null : queued;
    return { ...base, tone: why === 'connecting' ? 'amber' : 'red', state: t.card.feedStuck[why], detail: [detail, today, mism].filter(Boolean).join(' · ') || null };
  }
  return {
    ...base,
    tone: feed.mismatches ? 'red' : feed.awaitingClose ? 'amber' : 'green',
    state: today,
    detail: [waiting, mism].filter(Boolean).join(' · ') || null,
  };
}

/** The tray's one-line tooltip (≤ 60 characters, trimmed if longer). */
export function tooltipOf(status: Status, lang: Lang = 'ru'): string {
  const face = faceOf(status, lang);
  const t = strings(lang);
  const line = face.tone === 'green'
    ? t.tray.tooltip(face.sentence, portOf(status.front.url), ms(status.tunnel.rttMs))
    : t.tray.tooltip(face.sentence, null, null);
  return line.length <= 60 ? line : `${line.slice(0, 59)}…`;
}

/**
 * A date and time as the venue writes it, in the machine's local time, with
 * the offset so support far away reads it right: «28.11.2026, 15:40 (UTC+3)»,
 * «28 Nov 2026, 15:40 (UTC+3)». For reports; the screens use `when`.
 */
export function stamp(iso: string, lang: Lang): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const date = d.toLocaleDateString(lang === 'en' ? 'en-GB' : 'ru-RU', { day: lang === 'en' ? 'numeric' : '2-digit', month: lang === 'en' ? 'short' : '2-digit', year: 'numeric' });
  const off = -d.getTimezoneOffset();
  const h = Math.floor(Math.abs(off) / 60);
  const m = Math.abs(off) % 60;
  return `${date}, ${hhmm(iso)} (UTC${off < 0 ? '−' : '+'}${h}${m ? `:${String(m).padStart(2, '0')}` : ''})`;
}

/** HH:MM for today, else the day too («27.11, 15:40» / «27 Nov, 15:40»; the year when it is not this one). */
export function when(iso: string, lang: Lang, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  if (d.toDateString() === now.toDateString()) return hhmm(iso);
  const date = d.toLocaleDateString(lang === 'en' ? 'en-GB' : 'ru-RU', {
    day: lang === 'en' ? 'numeric' : '2-digit', month: lang === 'en' ? 'short' : '2-digit', ...(d.getFullYear() !== now.getFullYear() ? { year: 'numeric' } : {}),
  });
  return `${date}, ${hhmm(iso)}`;
}

/** HH:MM in the machine's local time. */
export function hhmm(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** The plain-text report for support (copied from the tray or the Диагностика screen). */
export function reportOf(status: Status, lang: Lang, at: string = new Date().toISOString()): string {
  const face = faceOf(status, lang);
  const t = strings(lang);
  return [
    `${t.appName} ${status.version} — ${stamp(at, lang)}`,
    face.sentence,
    ...face.cards.map((c) => `- ${c.title}: ${c.state}${c.detail ? ` (${c.detail})` : ''}`),
  ].join('\n');
}
