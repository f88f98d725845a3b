/**
 * `evva-companion diagnose` with no companion running: the checks run here
 * with a probe of their own (the only plugin session on the machine, logged
 * out at the end), and the tunnel is reported as what it is: not running.
 */
import type { Report } from '../../../protocol/diagnostics.ts';
import { realClock } from '../../../common/clock.ts';
import { createProbe } from '../front/probe.ts';
import { silentLogger } from '../../../common/logger.ts';
import type { Settings } from '../settings.ts';
import { MS_PER } from '../table.ts';
import { loadDevice } from '../tunnel/pair.ts';
import { VERSION } from '../../../common/version.ts';
import { createDiagnostics } from './checks.ts';

/** Runs every check without a running companion; logs its own plugin session out before resolving. */
export async function diagnoseHere(settings: Settings): Promise<Report> {
  const clock = realClock;
  const probe = createProbe({ frontUrl: settings.frontUrl, moduleId: settings.moduleId, intervalMs: settings.probeIntervalSec * MS_PER.s, clock, logger: silentLogger });
  let device = null;
  try {
    device = loadDevice(settings.dataDir);
  } catch {
    // A damaged pairing file: the tunnel check reports "offline" below either way.
  }
  const notRunning = {
    code: 'not_running',
    message: 'компаньон не запущен, поэтому туннеля нет.',
    hint: `Запустите его: evva-companion run --data-dir "${settings.dataDir}"`,
  };
  try {
    return await createDiagnostics({
      clock, logger: silentLogger, version: VERSION, dataDir: settings.dataDir, apiPort: () => settings.apiPort, probe,
      tunnel: () => ({
        status: device
          ? { state: 'offline', since: null, rttMs: null, reconnects: 0, venueId: device.venueId, relayUrl: device.relayUrl, error: notRunning }
          : { state: 'unpaired', since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null },
        skewMs: null, publicIp: null, proxy: null, reconnectsLastHour: 0,
      }),
      probeBack: async () => { throw new Error('компаньон не запущен'); },
      externalPort: settings.externalPort, evvaPaymentName: settings.feed.evvaPaymentName, courierCodes: settings.feed.courierCodes,
    }).run();
  } finally {
    await probe.stop();
  }
}
