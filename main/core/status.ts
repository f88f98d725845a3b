/** The overall level the tray and the status command show, from the parts' states. */
import type { FeedStatus, FrontStatus, Level, PaymentsSummary, TunnelStatus } from '../../protocol/local.ts';

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

/**
 * The companion's whole level, as `status --check`, the CLI, the tray and the
 * window read it (face/face.ts faceOf states the same verdict in words;
 * tests/unit/verdict.test.ts holds the two together): the parts' level, made
 * an error by a feed that cannot store (disk) or by a payment EVVA PAY must look
 * at (mismatch, order deleted: the guest may have paid twice), and at least a
 * warning by payments waiting to be closed or by logs that go to the console only.
 */
export function overallLevel(p: { front: FrontStatus; tunnel: TunnelStatus; feed?: FeedStatus; payments?: PaymentsSummary; logsLost?: boolean }): Level {
  if (p.feed?.state === 'failing') return 'error';
  const level = levelOf(p.front, p.tunnel);
  if (level === 'error') return level;
  if ((p.payments?.alarms ?? 0) > 0 && p.tunnel.state !== 'unpaired') return 'error';
  // Payments waiting for the cashier to close their orders with EVVAP, or a lost log: a person should look.
  const waiting = (p.payments?.byState.notified ?? 0) + (p.payments?.byState['pending-close'] ?? 0);
  if ((p.logsLost || waiting > 0) && level === 'ok') return 'warn';
  return level;
}
