/** The overall level the tray and the status command show, from the parts' states. */
import type { FrontStatus, Level, TunnelStatus } from '../../protocol/local.ts';

/**
 * error: EVVA cannot work with the venue now (plugin down or unlicensed, tunnel
 * offline, or unpaired with a reason: the pairing was revoked or replaced, or the
 * pairing file is damaged);
 * warn: not there yet (starting up, connecting, never paired);
 * ok: plugin up and tunnel connected.
 */
export function levelOf(front: FrontStatus, tunnel: TunnelStatus): Level {
  if (front.state === 'down' || front.state === 'unlicensed' || tunnel.state === 'offline') return 'error';
  if (tunnel.state === 'unpaired' && tunnel.error) return 'error';
  if (front.state === 'unknown' || tunnel.state === 'connecting' || tunnel.state === 'unpaired') return 'warn';
  return 'ok';
}
