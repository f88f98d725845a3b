/** Five screens, each at its own path, so a support person can say «откройте /diagnostics». */
import { useEffect, useState } from 'react';

export type Route = 'status' | 'setup' | 'journal' | 'diagnostics' | 'settings';
export const ROUTES: Route[] = ['status', 'setup', 'journal', 'diagnostics', 'settings'];
const PATHS: Record<Route, string> = { status: '/', setup: '/setup', journal: '/journal', diagnostics: '/diagnostics', settings: '/settings' };

export const pathOf = (r: Route) => PATHS[r];
const routeOf = (path: string): Route => ROUTES.find((r) => PATHS[r] === path) ?? 'status';

/** The current screen and a way to go to another (history-aware: Back works). */
export function useRoute(): [Route, (r: Route) => void] {
  const [route, setRoute] = useState<Route>(() => routeOf(window.location.pathname));
  useEffect(() => {
    const onPop = () => setRoute(routeOf(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const go = (r: Route) => {
    if (r === route) return;
    window.history.pushState(null, '', PATHS[r]);
    setRoute(r);
  };
  return [route, go];
}
