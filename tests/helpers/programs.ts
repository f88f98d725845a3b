/**
 * Where the tests find the programs they start themselves (Debian's paths; tests/machine.ts installs what is
 * missing). Only constants: the global setup imports this, and the helpers that start the programs pull in
 * Playwright or the whole relay, which the setup does not need.
 */

/** Chromium's headless shell for tests/ui (tests/ui/browser.ts); EVVA_CHROMIUM=/usr/bin/chromium runs the full browser. */
export const CHROMIUM = process.env.EVVA_CHROMIUM ?? '/usr/bin/chromium-headless-shell';
/** HAProxy in front of the cluster tests' relays (tests/helpers/haproxy.ts). */
export const HAPROXY = '/usr/sbin/haproxy';
/** Redis for the cluster tests (tests/helpers/redis.ts). */
export const REDIS_SERVER = '/usr/bin/redis-server';
