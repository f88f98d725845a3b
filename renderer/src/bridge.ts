/** What the Electron preload hands the page (absent in a plain browser, where the cookie does the work). */
import type { Bridge } from '../../protocol/bridge.ts';

declare global {
  interface Window { evva?: Bridge }
}

/** The desktop bridge, or null in a browser. */
export const desktop: Bridge | null = typeof window !== 'undefined' && window.evva ? window.evva : null;
