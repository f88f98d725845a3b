/**
 * A venue's verdict as the companion itself states it: the status the
 * companion last reported (or, from an older companion, the plugin state it
 * reported), with the link as the relay sees it, read by the companion's own
 * face function (face/face.ts, worded from the one verdict, face/verdict.ts).
 * This file is the relay's only import of those, so when they move, one
 * import changes.
 */
import { faceOf, hhmm, type Face } from '../../face/face.ts';
import { withLevel } from '../../face/verdict.ts';
import type { Verdict } from '../../protocol/console.ts';
import type { FrontStatus, Status, TunnelStatus } from '../../protocol/local.ts';
import type { Lang } from '../../face/strings.ts';
import type { FaceRow } from '../db/console.ts';

/** What the relay knows of a venue that bears on its verdict. */
export interface VenueFacts {
  venueId: string;
  createdAt: number;
  pairedAt: number | null;
  revokedAt: number | null;
  /** A tunnel of the venue is up (on some node). */
  online: boolean;
  connectedAt: number | null;
  lastSeenAt: number | null;
  companionVersion: string | null;
  /** The plugin state the companion last reported (every companion sends it). */
  front: FrontStatus | null;
  /** The companion's whole status as it last reported it (newer companions), on this connection or the last one. */
  status: Status | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const UNKNOWN_FRONT: FrontStatus = { state: 'unknown', url: null, latencyMs: null, checkedAt: null, since: null, source: null };

/**
 * The status the companion would show now, as far as the relay can know it:
 * what it reported, with the link replaced by what the relay sees (revoked,
 * never paired, online, or offline since it was last heard).
 */
export function statusAsSeen(f: VenueFacts): Status {
  const reported = f.status;
  const base = { rttMs: null, reconnects: reported?.tunnel.reconnects ?? 0, venueId: f.venueId, relayUrl: reported?.tunnel.relayUrl ?? null };
  let tunnel: TunnelStatus;
  if (f.revokedAt !== null) {
    // What the companion shows once the relay refuses its token (main/core/tunnel/client.ts).
    tunnel = { ...base, state: 'unpaired', since: iso(f.revokedAt), error: { code: 'token_refused', message: 'Привязка отозвана в EVVA', messageEn: 'The pairing was revoked in EVVA' } };
  } else if (f.pairedAt === null) {
    tunnel = { ...base, state: 'unpaired', since: null };
  } else if (f.online) {
    // A report written just before the link came up may still say "connecting": the link is up, so it is connected.
    tunnel = reported && reported.tunnel.state === 'connected' ? reported.tunnel : { ...base, state: 'connected', since: iso(f.connectedAt) };
  } else {
    tunnel = { ...base, state: 'offline', since: iso(f.lastSeenAt ?? f.pairedAt) };
  }
  // The level the companion would give it with this link (what it reported was judged with its own view of the link).
  if (reported) return withLevel({ ...reported, tunnel });
  return withLevel({ version: f.companionVersion ?? '—', startedAt: iso(f.connectedAt ?? f.createdAt) as string, front: f.front ?? UNKNOWN_FRONT, tunnel });
}

/** The venue's face (sentence, tone, what to do, the four cards) in `lang`; `time` formats the times inside sentences. */
export function verdictOf(f: VenueFacts, lang: Lang, time: (iso: string) => string = hhmm): Face {
  return faceOf(statusAsSeen(f), lang, time);
}

/** Just the tone (what the list filters and sorts on). */
export function toneOf(f: VenueFacts): Verdict {
  return verdictOf(f, 'en').tone;
}

/** The text a search compares with: lower case (Russian rules), ё as е. */
export function fold(s: string): string {
  return s.toLocaleLowerCase('ru-RU').replace(/ё/g, 'е');
}

export function searchKeyOf(name: string, venueId: string): string {
  return `${fold(name)} ${venueId}`;
}

/** The facts of a stored row; `online` from its link column (kept by the node holding the tunnel). */
export function factsOf(r: FaceRow, online = r.onlineLink !== null): VenueFacts {
  return {
    venueId: r.id, createdAt: r.createdAt, pairedAt: r.pairedAt, revokedAt: r.revokedAt, online,
    connectedAt: r.connectedAt, lastSeenAt: r.lastSeenAt, companionVersion: r.companionVersion,
    front: parse<FrontStatus>(r.frontJson), status: parse<Status>(r.statusJson),
  };
}

/** Stored JSON was validated when it arrived (the tunnel's frame schemas); a damaged row reads as "no data". */
function parse<T>(json: string | null): T | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as T;
  } catch {
    return null;
  }
}

const formats = new Map<string, Intl.DateTimeFormat>();
/** HH:MM in the reader's time zone (IANA name); an unknown zone falls back to the relay's own. */
export function timeIn(tz: string | undefined): (iso: string) => string {
  if (!tz) return hhmm;
  let f = formats.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('ru-RU', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: tz });
    } catch {
      return hhmm;
    }
    if (formats.size > 100) formats.clear();
    formats.set(tz, f);
  }
  const fmt = f;
  return (s) => {
    const d = new Date(s);
    return Number.isNaN(d.getTime()) ? '—' : fmt.format(d);
  };
}
