/** Shows the notices main/core/notices.ts decides on; a click opens the window where it helps. */
import type { Notification as NotificationType, NotificationConstructorOptions } from 'electron';
import type { Notice } from '../core/notices.ts';

export interface NotifyOptions {
  Notification: { new (options: NotificationConstructorOptions): NotificationType; isSupported(): boolean };
  icon: string;
  open(route: string): void;
}

const ROUTES: Record<Notice['open'], string> = { status: '/', diagnostics: '/diagnostics', journal: '/journal' };

/** Returns a function that displays notices (a no-op where the system has no notifications). */
export function enableNotifications(opts: NotifyOptions): (notices: Notice[]) => void {
  return (notices) => {
    if (!opts.Notification.isSupported()) return;
    for (const n of notices) {
      const shown = new opts.Notification({ title: n.title, body: n.body, icon: opts.icon, silent: n.kind !== 'payment' && n.kind !== 'mismatch' });
      shown.on('click', () => opts.open(ROUTES[n.open]));
      shown.show();
    }
  };
}
