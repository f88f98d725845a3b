/**
 * Is `host` this machine's loopback (127.0.0.0/8, ::1, localhost)? Used to keep
 * the plugin URL on this PC and to allow plain ws:// only to a local relay.
 * `*.localhost` is deliberately not accepted: Node resolves it through DNS,
 * which could point anywhere.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}
