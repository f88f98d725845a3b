/**
 * Moves outbox events onto the tunnel: on every new link it starts again from
 * the oldest unacknowledged event, keeps at most EVENTS_IN_FLIGHT sent and not
 * yet acknowledged, and removes events from the outbox only when the relay
 * acks them (after storing them). A relay that never acks (no feed there)
 * costs nothing but a full window: the events stay on disk for the next link.
 */
import { EVENTS_IN_FLIGHT, type Envelope } from '../../../protocol/events.ts';
import type { Logger } from '../../../common/logger.ts';
import type { Outbox } from './store.ts';

/** What the sender needs of a link: send one event frame; false when the link can no longer send. */
export interface EventPort {
  sendEvent(e: Envelope): boolean;
}

export interface Sender {
  /** A link is up: (re)send from the oldest unacknowledged event. */
  up(port: EventPort): void;
  /** The link is gone; in-flight events will be resent on the next one. */
  down(port: EventPort): void;
  /** The relay stored these events. */
  ack(eventIds: string[]): void;
  /** New events were appended: send what the window allows. */
  kick(): void;
  /** Events sent and not yet acknowledged on the current link. */
  inFlight(): number;
  /** Acks received since start. */
  acked(): number;
  /** Is a link up. */
  connected(): boolean;
}

export function createSender(opts: { outbox: Outbox; venueId: string; logger: Logger; window?: number; onAck?: (ids: string[]) => void }): Sender {
  const { outbox, venueId } = opts;
  const window = opts.window ?? EVENTS_IN_FLIGHT;
  const log = opts.logger.child({ part: 'sender' });
  let port: EventPort | null = null;
  let cursor = 0;
  const inFlight = new Set<string>();
  let acked = 0;

  function pump(): void {
    if (!port) return;
    try {
      while (inFlight.size < window) {
        const batch = outbox.pending(venueId, cursor, window - inFlight.size);
        if (batch.length === 0) return;
        const sent: number[] = [];
        for (const e of batch) {
          if (!port.sendEvent(e)) {
            outbox.markSent(venueId, sent);
            return;
          }
          inFlight.add(e.eventId);
          cursor = e.seq;
          sent.push(e.seq);
        }
        outbox.markSent(venueId, sent);
      }
    } catch (e) {
      // A disk error reading the outbox: the events are still there; the next kick or link retries.
      log.warn('could not read the outbox', { err: e instanceof Error ? e.message : String(e) });
    }
  }

  return {
    up(p) {
      port = p;
      cursor = 0;
      inFlight.clear();
      pump();
    },
    down(p) {
      if (port !== p) return;
      port = null;
      inFlight.clear();
    },
    ack(ids) {
      try {
        outbox.ack(ids);
      } catch (e) {
        // Not removed: the events will be sent again and the relay drops them by eventId.
        log.warn('could not remove acknowledged events', { err: e instanceof Error ? e.message : String(e) });
      }
      for (const id of ids) inFlight.delete(id);
      acked += ids.length;
      opts.onAck?.(ids);
      pump();
    },
    kick: pump,
    inFlight: () => inFlight.size,
    acked: () => acked,
    connected: () => port !== null,
  };
}
