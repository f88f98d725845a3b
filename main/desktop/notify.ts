/**
 * Shows the notices main/core/notices.ts decides on; a click opens the window
 * where it helps.
 *
 * A Notification's `click` reaches only a JS object that is still alive
 * (docs/api/notification.md): one the app does not hold is garbage collected
 * and its click is lost, which is also what a toast clicked later in Windows'
 * Action Center meets (issue 24 item 4). So the last notifications are held,
 * and on Windows `Notification.handleActivation` (Electron 45, Windows only)
 * answers every activation, whatever became of the object.
 */
import type { Notification as NotificationType, NotificationConstructorOptions } from 'electron';
import type { Notice } from '../core/notices.ts';

export interface NotifyOptions {
  Notification: {
    new (options: NotificationConstructorOptions): NotificationType;
    isSupported(): boolean;
    /** Windows only (lib/browser/api/notification.ts binds it there). */
    handleActivation?(callback: (details: { type: string; arguments: string }) => void): void;
  };
  icon: string;
  open(route: string): void;
  now?: () => number;
}

const ROUTES: Record<Notice['open'], string> = { status: '/', diagnostics: '/diagnostics', journal: '/journal' };
/** How many shown notifications are held (a day's worth of the rare notices this app shows). */
export const HELD = 50;
/** A click delivered both to the object and to handleActivation opens the window once. */
const SAME_CLICK_MS = 1_500;

/** Returns a function that displays notices (a no-op where the system has no notifications). */
export function enableNotifications(opts: NotifyOptions): (notices: Notice[]) => void {
  const now = opts.now ?? Date.now;
  const held: NotificationType[] = [];
  const routes = new Map<string, string>();
  let seq = 0;
  let lastRoute = '/';
  let clickedAt = -Infinity;
  const open = (route: string) => { clickedAt = now(); opts.open(route); };

  // The toast's arguments carry `tag=<id>` for its buttons; a click on the body carries none, so it opens the latest notice's place.
  opts.Notification.handleActivation?.((details) => {
    if (now() - clickedAt < SAME_CLICK_MS) return;
    const tag = /(?:^|&)tag=([^&]+)/.exec(details.arguments ?? '')?.[1];
    open((tag && routes.get(tag)) || lastRoute);
  });

  return (notices) => {
    if (!opts.Notification.isSupported()) return;
    for (const n of notices) {
      const id = `evva-${++seq}`;
      const route = ROUTES[n.open];
      const shown = new opts.Notification({ id, title: n.title, body: n.body, icon: opts.icon, silent: n.kind !== 'payment' && n.kind !== 'mismatch' } as NotificationConstructorOptions);
      shown.on('click', () => open(route));
      shown.show();
      held.push(shown);
      routes.set(id, route);
      lastRoute = route;
      if (held.length > HELD) {
        held.shift();
        routes.delete(routes.keys().next().value as string);
      }
    }
  };
}
