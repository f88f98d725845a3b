/** The console's screens, each at its own path under /console/, so support can send a colleague a link. */
import { useEffect, useState } from 'react';

export type Tab = 'overview' | 'diagnostics' | 'logs' | 'audit' | 'pairing';
export const TABS: Tab[] = ['overview', 'diagnostics', 'logs', 'audit', 'pairing'];
export type Place = { screen: 'list' } | { screen: 'venue'; venueId: string; tab: Tab };

export function placeOf(path: string): Place {
  const m = /^\/console\/venues\/(ven_[a-z0-9]{8,32})(?:\/([a-z]+))?\/?$/.exec(path);
  if (m) {
    const tab = (TABS as string[]).includes(m[2] ?? '') ? (m[2] as Tab) : 'overview';
    return { screen: 'venue', venueId: m[1] as string, tab };
  }
  return { screen: 'list' };
}

export function pathOf(p: Place): string {
  if (p.screen === 'list') return '/console/';
  return `/console/venues/${p.venueId}${p.tab === 'overview' ? '' : `/${p.tab}`}`;
}

/** The current place and a way to go to another (history-aware: Back works; the list keeps its query in the address). */
export function usePlace(): [Place, (p: Place, search?: string) => void] {
  const [place, setPlace] = useState<Place>(() => placeOf(window.location.pathname));
  useEffect(() => {
    const onPop = () => setPlace(placeOf(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const go = (p: Place, search = '') => {
    window.history.pushState(null, '', `${pathOf(p)}${search}`);
    setPlace(p);
  };
  return [place, go];
}
