/**
 * The live state of the companion: the status, the recent Журнал rows of the
 * plugin and the link, and any other events the core streams. Reconnects by
 * itself; says when the companion does not answer or wants a login, and then
 * drops the status it had (a stopped companion is not a network problem).
 */
import { useEffect, useRef, useState } from 'react';
import type { JournalPage, JournalRow, Status } from '../../protocol/local.ts';
import { call, liveUrl } from './api.ts';

export interface Live {
  /** The status, or null while the companion does not answer (never a stale one). */
  status: Status | null;
  /** 'login' when the API answered 401: the page needs the login link. */
  link: 'connecting' | 'up' | 'down' | 'login';
  /** The newest Журнал rows of the plugin and the link (the status screen's «Последние события»). */
  recent: JournalRow[];
  /** Each new or folded Журнал row as the core sends it (the Журнал screen merges them). */
  rows: JournalRow[];
  /** Fetches the status now (after an action), without waiting for the stream. */
  refresh(): Promise<void>;
}

const RECENT = 5;
const MAX_ROWS = 300;

/** Newest first by the last time a row happened; a folded row replaces its earlier copy. */
export function mergeRows(old: JournalRow[], add: JournalRow[], max = MAX_ROWS): JournalRow[] {
  const byId = new Map(old.map((r) => [r.id, r]));
  for (const r of add) byId.set(r.id, r);
  return [...byId.values()].sort((a, b) => (a.lastAt === b.lastAt ? b.id - a.id : a.lastAt < b.lastAt ? 1 : -1)).slice(0, max);
}

/** Subscribes to /api/live for the life of the component. */
export function useLive(): Live {
  const [status, setStatus] = useState<Status | null>(null);
  const [link, setLink] = useState<Live['link']>('connecting');
  const [recent, setRecent] = useState<JournalRow[]>([]);
  const [rows, setRows] = useState<JournalRow[]>([]);
  const alive = useRef(true);

  const refresh = async () => {
    const r = await call<Status>('GET', '/api/status');
    if (r.ok) { setStatus(r.data); return; }
    if (r.status === 401) { setStatus(null); setLink('login'); }
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
        // What the page showed is no longer true: say the companion does not answer instead.
        setStatus(null);
        setLink(first.status === 401 ? 'login' : 'down');
        if (first.status !== 401) retry();
        return;
      }
      setStatus(first.data);
      const page = await call<JournalPage>('GET', `/api/journal?kind=link,front&limit=${RECENT}`);
      if (page.ok) setRecent(page.data.rows);
      ws = new WebSocket(liveUrl());
      ws.onopen = () => { delay = 500; setLink('up'); };
      ws.onmessage = (m) => {
        let msg: { type?: string; status?: Status; row?: JournalRow };
        try { msg = JSON.parse(String(m.data)); } catch { return; }
        if (msg.type === 'status' && msg.status) setStatus(msg.status);
        else if (msg.type === 'journal' && msg.row) {
          const row = msg.row;
          setRows((r) => mergeRows(r, [row]));
          if (row.kind === 'link' || row.kind === 'front') setRecent((r) => mergeRows(r, [row], RECENT));
        }
      };
      ws.onclose = () => {
        ws = null;
        if (!alive.current) return;
        setStatus(null);
        setLink('down');
        retry();
      };
    };
    const retry = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => void open(), delay);
      delay = Math.min(delay * 2, 5_000);
    };
    void open();
    return () => { alive.current = false; window.clearTimeout(timer); ws?.close(); };
  }, []);

  return { status, link, recent, rows, refresh };
}
