/**
 * `evva-companion pair CODE`: binds this PC to an EVVA venue, through the
 * running companion when there is one, else directly, saying what it waits for.
 * The pairing itself (the relay call, device.json) is tunnel/pair.ts.
 */
import os from 'node:os';
import { PairResult, type LocalApiFile, type Problem } from '../../protocol/local.ts';
import { normalizePairingCode } from '../../protocol/relay.ts';
import { VERSION } from '../../common/version.ts';
import { verifyCompanion } from './api/proof.ts';
import { runningAgent } from './api/running.ts';
import { loadSettings, type Settings, type SettingsFlags } from './settings.ts';
import { TunnelError } from './tunnel/problems.ts';
import { problemLines, venueText } from './summary.ts';

/**
 * Pairs through the running companion when there is one (so its tunnel starts
 * at once), otherwise directly; either way device.json ends up holding the token.
 */
export async function pairCommand(flags: SettingsFlags, code: string): Promise<number> {
  const settings = loadSettings(flags);
  const fail = (p: Problem) => { console.error(problemLines(p).join('\n')); return 1; };
  // A code that cannot be one is refused here, before anything (the server, or even the running companion) is asked.
  if (!normalizePairingCode(code)) {
    const { malformedCode } = await import('./tunnel/pair.ts');
    return fail(malformedCode(code));
  }
  const found = runningAgent(settings.dataDir);
  // Neither the code nor the token goes anywhere until the server proves it is the companion that wrote the file.
  const running = found && (await verifyCompanion(found)).ok ? found : null;
  const relayUrl = settings.relayUrl ?? undefined;
  // Pairing can take seconds (a slow relay, a proxy): say what is going on instead of staying silent.
  console.log(`Привязка: связываюсь с сервером EVVA${relayUrl ? ` ${relayUrl}` : ''}…`);
  const started = Date.now();
  const progress = setInterval(() => console.log(`  …жду ответа сервера EVVA (${Math.round((Date.now() - started) / 1000)} с)`), PROGRESS_EVERY_MS);
  try {
    return await pairVia(running, settings, code, relayUrl, fail);
  } finally {
    clearInterval(progress);
  }
}

/** How often `pair` says it is still waiting. */
const PROGRESS_EVERY_MS = 3_000;

async function pairVia(running: LocalApiFile | null, settings: Settings, code: string, relayUrl: string | undefined, fail: (p: Problem) => number): Promise<number> {
  if (running) {
    try {
      const res = await fetch(`${running.url}/api/pair`, {
        method: 'POST',
        headers: { authorization: `Bearer ${running.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ code, ...(relayUrl ? { relayUrl } : {}) }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = await res.json() as { error?: Problem };
      if (res.status !== 200) return fail(body.error ?? { code: 'error', message: `Компаньон ответил ${res.status}.` });
      const ok = PairResult.parse(body);
      console.log(`Готово: компаньон привязан к заведению ${venueText(ok.venueName, ok.venueId)}, сервер ${ok.relayUrl}. Связь с EVVA устанавливается.`);
      return 0;
    } catch {
      // The running companion did not answer: pair directly below; it picks the pairing up on restart.
    }
  }
  const { pair } = await import('./tunnel/pair.ts');
  if (!relayUrl) return fail({ code: 'relay_url_missing', message: 'Не указан адрес сервера EVVA.', hint: 'Добавьте --relay-url https://… (адрес даёт EVVA вместе с кодом).' });
  try {
    const ok = await pair({
      code, relayUrl, dataDir: settings.dataDir, companion: { version: VERSION, hostname: os.hostname() },
      proxy: settings.proxy ?? undefined, allowInsecure: settings.allowInsecure,
    });
    console.log(`Готово: компаньон привязан к заведению ${venueText(ok.venueName, ok.venueId)}, сервер ${ok.relayUrl}.`);
    console.log(`Запустите его: evva-companion run --data-dir "${settings.dataDir}"`);
    return 0;
  } catch (e) {
    if (e instanceof TunnelError) return fail(e.problem);
    throw e;
  }
}
