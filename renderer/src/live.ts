/**
 * The live state of the companion: the status, the recent activity and any
 * other events the core streams (orders, payments once the feed sends them).
 * Reconnects by itself; says when the companion does not answer or wants a login.
 */
import { useEffect, useRef, useState } from 'react';
import type { ActivityItem, Status } from '../../protocol/local.ts';
import { call, liveUrl } from './api.ts';

/** Any live message that is not the status or activity (e.g. the feed's events), kept as sent. */
export interface LiveEvent { at: string; type: string; body: Record<string, unknown> }

export interface Live {
  status: Status | null;
  /** 'login' when the API answered 401: the page needs the login link. */
  link: 'connecting' | 'up' | 'down' | 'login';
  activity: ActivityItem[];
  events: LiveEvent[];
  /** Fetches the status now (after an action), without waiting for the stream. */
  refresh(): Promise<void>;
}

const MAX_EVENTS = 300;

/** Subscribes to /api/live for the life of the component. */
export function useLive(): Live {
  const [status, setStatus] = useState<Status | null>(null);
  const [link, setLink] = useState<Live['link']>('connecting');
  const [activity, setActivity] = useState<ActivityItem[]>([]);
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const alive = useRef(true);

  const refresh = async () => {
    const r = await call<Status>('GET', '/api/status');
    if (r.ok) { setStatus(r.data); return; }
    if (r.status === 401) setLink('login');
  };

  useEffect(() => {
    alive.current = true;
    let ws: WebSocket | null = null;
    let timer: number | undefined;
    let delay = 500;
    const open = async () => {
      if (!alive.current) return;
      const first = await call<Status>('GET', '/api/status');
      if (!alive.current) return;
      if (!first.ok) {
        setLink(first.status === 401 ? 'login' : 'down');
        if (first.status !== 401) retry();
        return;
      }
      setStatus(first.data);
      const items = await call<{ items: ActivityItem[] }>('GET', '/api/activity?limit=100');
      if (items.ok) setActivity(items.data.items);
      ws = new WebSocket(liveUrl());
      ws.onopen = () => { delay = 500; setLink('up'); };
      ws.onmessage = (m) => {
        let msg: { type?: string; status?: Status; item?: ActivityItem } & Record<string, unknown>;
        try { msg = JSON.parse(String(m.data)); } catch { return; }
        if (msg.type === 'status' && msg.status) setStatus(msg.status);
        else if (msg.type === 'activity' && msg.item) setActivity((a) => [msg.item!, ...a.filter((x) => x.id !== msg.item!.id)].slice(0, 200));
        else if (typeof msg.type === 'string') setEvents((e) => [{ at: new Date().toISOString(), type: msg.type!, body: msg }, ...e].slice(0, MAX_EVENTS));
      };
      ws.onclose = () => { ws = null; if (alive.current) { setLink('down'); retry(); } };
    };
    const retry = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => void open(), delay);
      delay = Math.min(delay * 2, 5_000);
    };
    void open();
    return () => { alive.current = false; window.clearTimeout(timer); ws?.close(); };
  }, []);

  return { status, link, activity, events, refresh };
}
