/**
 * The pairing (device.json) as the agent uses it, with the device token
 * optionally sealed by the host: the desktop app seals it with the OS's
 * protection (Electron safeStorage: DPAPI on Windows), so the file alone is
 * useless on another account or machine. Headless, the file keeps the token
 * readable by its owner only (0600), as before.
 */
import path from 'node:path';
import { writePrivateFile } from './files.ts';
import type { Logger } from '../../common/logger.ts';
import { DEVICE_FILE, loadDevice, type DeviceFile } from './tunnel/pair.ts';
import { TunnelError } from './tunnel/problems.ts';

/** How a sealed token starts in device.json. */
export const SEALED_PREFIX = 'sealed:v1:';

/** Encrypts and decrypts short secrets; provided by the desktop shell. */
export interface Sealer {
  /** Returns an opaque string that only `open` on this account and machine can read. */
  seal(plain: string): Promise<string>;
  open(sealed: string): Promise<string>;
  /** True when the last open() of `sealed` was told to seal again (the OS key changed, e.g. safeStorage's shouldReEncrypt). */
  stale?(sealed: string): boolean;
}

/**
 * Reads device.json and returns it with the token in clear (in memory only).
 * With a sealer, a token still in clear is sealed in the file first. Without
 * one, a sealed token is a Russian problem saying to use the desktop app or pair again.
 */
export async function readDevice(dataDir: string, sealer: Sealer | undefined, logger: Logger): Promise<DeviceFile | null> {
  const device = loadDevice(dataDir);
  if (!device) return null;
  const sealed = device.deviceToken.startsWith(SEALED_PREFIX);
  if (sealed && !sealer) {
    throw new TunnelError({
      code: 'device_sealed',
      message: 'Ключ этого устройства зашифрован приложением EVVA Companion и недоступен без него.',
      hint: 'Запустите приложение EVVA Companion (значок в трее) или привяжите компаньон заново с новым кодом от EVVA.',
      messageEn: 'The device token is sealed by the desktop app; run the app or pair again.',
      command: 'evva-companion pair КОД --relay-url https://…',
    });
  }
  if (!sealer) return device;
  if (sealed) {
    const box = device.deviceToken.slice(SEALED_PREFIX.length);
    let plain: string;
    try {
      plain = await sealer.open(box);
    } catch (e) {
      throw new TunnelError({
        code: 'device_sealed',
        message: 'Не удалось расшифровать ключ устройства: файл привязки скопирован с другого компьютера или учётной записи.',
        hint: 'Привяжите компаньон заново: получите новый код в EVVA и введите его в разделе «Настройка».',
        messageEn: `Cannot open the sealed device token (${(e as Error).message}); pair again.`,
      }, { cause: e });
    }
    // The OS rotated its key: seal again with the new one, or a later key change would leave the token unreadable.
    if (sealer.stale?.(box)) await sealAgain(dataDir, device, plain, sealer, logger);
    return { ...device, deviceToken: plain };
  }
  try {
    const box = await sealer.seal(device.deviceToken);
    writePrivateFile(path.join(dataDir, DEVICE_FILE), `${JSON.stringify({ ...device, deviceToken: `${SEALED_PREFIX}${box}` }, null, 2)}\n`);
    logger.info('device token sealed by the desktop app');
  } catch (e) {
    // No OS protection available (e.g. no keyring): keep the 0600 file as it is, and say so.
    logger.warn('device token left unsealed', { error: (e as Error).message });
  }
  return device;
}

async function sealAgain(dataDir: string, device: DeviceFile, plain: string, sealer: Sealer, logger: Logger): Promise<void> {
  try {
    const box = await sealer.seal(plain);
    writePrivateFile(path.join(dataDir, DEVICE_FILE), `${JSON.stringify({ ...device, deviceToken: `${SEALED_PREFIX}${box}` }, null, 2)}\n`);
    logger.info('device token sealed again with the new key');
  } catch (e) {
    // The old box still opens today; try again at the next start.
    logger.warn('device token not sealed again', { error: (e as Error).message });
  }
}
