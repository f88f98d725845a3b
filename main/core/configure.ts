/**
 * Settings changed from the UI (`GET/PUT /api/settings`): validated with the
 * same schema as settings.json, written there, and applied to the running
 * agent where that needs no restart.
 */
import path from 'node:path';
import { writePrivateFile } from './files.ts';
import { checkSettingsFile, maskUrl, readSettingsFile, SETTINGS_FILE, SettingsError, type Settings, type SettingSource } from './settings.ts';
import { DEFAULTS, type SettingsFile } from './table.ts';

/** Fields the UI may change, and what applying each one takes. */
export const EDITABLE = {
  frontUrl: 'front', moduleId: 'front', probeIntervalSec: 'front',
  relayUrl: 'live', proxy: 'tunnel', language: 'live', allowRemoteDiagnostics: 'live', journalDays: 'journal',
} as const;
type Editable = keyof typeof EDITABLE;

/** What the UI reads: the values in force, which come from where, and a proxy password never. */
export interface SettingsView {
  values: {
    frontUrl: string | null; moduleId: string; probeIntervalSec: number; relayUrl: string | null; proxy: string | null; language: 'ru' | 'en';
    /** EVVA support may run the checks, read the log and take the bundle (read by every remote command). */
    allowRemoteDiagnostics: boolean;
    /** How many days the Журнал keeps its rows. */
    journalDays: number;
  };
  /** Where each value in force came from: `flag` and `env` were set when the companion started and cannot be changed here. */
  sources: Record<Editable, SettingSource>;
  /** Values from settings.json (what a PUT changes); flags and environment variables override them at start. */
  stored: Partial<Record<Editable, unknown>>;
  /** Settings that only a restart applies (port, log level, tunnel limits) stay in settings.json. */
  restartOnly: string[];
}

export interface UpdateResult extends SettingsView {
  /** Fields changed by this call; all took effect at once. */
  applied: string[];
}

/** How the settings screen names each field, for messages about it (never the key). */
const LABELS: Record<Editable, string> = {
  frontUrl: 'Адрес плагина iikoFront', moduleId: 'Идентификатор модуля', probeIntervalSec: 'Проверять iikoFront каждые, секунд',
  relayUrl: 'Адрес сервера EVVA', proxy: 'Прокси для связи с EVVA', language: 'Язык интерфейса', allowRemoteDiagnostics: 'Разрешить EVVA удалённую диагностику',
  journalDays: 'Хранить журнал, дней',
};

/** Shows a proxy URL without its password. */
const hidePassword = (url: string | null | undefined): string | null => (url ? maskUrl(url) : null);

/** Binds the settings API to the agent's live settings object and its re-apply hooks. */
export function configure(settings: Settings, apply: { front(): Promise<void>; tunnel(): void; journal(days: number): void }) {
  const view = (): SettingsView => {
    const stored = readSettingsFile(settings.dataDir);
    return {
      values: {
        frontUrl: settings.frontUrl, moduleId: settings.moduleId, probeIntervalSec: settings.probeIntervalSec,
        relayUrl: settings.relayUrl, proxy: hidePassword(settings.proxy), language: settings.language,
        // The file is what remote commands read (it may have been edited by hand since the start).
        allowRemoteDiagnostics: stored.allowRemoteDiagnostics ?? settings.allowRemoteDiagnostics,
        journalDays: settings.journalDays,
      },
      sources: Object.fromEntries(Object.keys(EDITABLE).map((k) => [k, k in stored && (settings.sources[k] ?? 'default') === 'default' ? 'file' : settings.sources[k] ?? 'default'])) as Record<Editable, SettingSource>,
      stored: Object.fromEntries(Object.keys(EDITABLE).filter((k) => k in stored).map((k) => [k, k === 'proxy' ? hidePassword(stored.proxy ?? null) : stored[k as Editable]])),
      restartOnly: ['apiPort', 'logLevel', 'allowInsecure', 'tunnel'],
    };
  };
  return {
    read: view,
    /** Validates the whole patch before changing anything; a bad or unknown field throws SettingsError naming it. */
    async update(patch: unknown): Promise<UpdateResult> {
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
        throw new SettingsError('Нужен JSON-объект с изменёнными настройками, например {"probeIntervalSec": 5}.');
      }
      const unknown = Object.keys(patch).filter((k) => !(k in EDITABLE));
      if (unknown.length) {
        throw new SettingsError(`Поле «${unknown.join('», «')}» нельзя изменить из интерфейса: измените его в файле ${SETTINGS_FILE} и перезапустите компаньон.`, unknown);
      }
      // Flags and environment variables outrank settings.json (docs/settings.md): a value set that way at
      // start is not overridden from here, or the running companion would break its own documented order.
      const locked = Object.keys(patch).filter((k) => settings.sources[k] === 'flag' || settings.sources[k] === 'env');
      if (locked.length) {
        throw new SettingsError(`${locked.map((k) => `«${LABELS[k as Editable]}»`).join(', ')}: задано при запуске компаньона, поэтому здесь не меняется. Его меняют там же, где запускают компаньон.`,
          locked, locked.map((field) => ({ field, message: 'задано при запуске компаньона, поэтому здесь не меняется' })), 'locked');
      }
      const changes = { ...(patch as Record<string, unknown>) };
      // The form sends back the hidden password unchanged: keep the stored one.
      if (typeof changes.proxy === 'string' && changes.proxy.includes('***') && changes.proxy === hidePassword(settings.proxy)) delete changes.proxy;
      const current = readSettingsFile(settings.dataDir);
      const next: Record<string, unknown> = { ...current };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null && k !== 'frontUrl' && k !== 'relayUrl' && k !== 'proxy') delete next[k];
        else next[k] = v === '' ? null : v;
      }
      const valid: SettingsFile = checkSettingsFile(next, 'в запросе');
      writePrivateFile(path.join(settings.dataDir, SETTINGS_FILE), `${JSON.stringify(valid, null, 2)}\n`);

      const applied = Object.keys(changes).filter((k) => JSON.stringify(current[k as Editable] ?? null) !== JSON.stringify(valid[k as Editable] ?? null));
      const kinds = new Set(applied.map((k) => EDITABLE[k as Editable]));
      if (applied.includes('frontUrl')) settings.frontUrl = valid.frontUrl ? new URL(valid.frontUrl).origin : null;
      settings.moduleId = applied.includes('moduleId') ? valid.moduleId ?? DEFAULTS.moduleId : settings.moduleId;
      if (applied.includes('probeIntervalSec')) settings.probeIntervalSec = valid.probeIntervalSec ?? DEFAULTS.probeIntervalSec;
      if (applied.includes('relayUrl')) settings.relayUrl = valid.relayUrl ?? null;
      if (applied.includes('proxy')) settings.proxy = valid.proxy ?? null;
      if (applied.includes('language')) settings.language = valid.language ?? DEFAULTS.language;
      if (applied.includes('allowRemoteDiagnostics')) settings.allowRemoteDiagnostics = valid.allowRemoteDiagnostics ?? DEFAULTS.allowRemoteDiagnostics;
      if (applied.includes('journalDays')) settings.journalDays = valid.journalDays ?? DEFAULTS.journalDays;
      // What `evva-companion settings` reports for the running companion: the file now holds these.
      for (const k of applied) settings.sources[k] = k in valid ? 'file' : 'default';
      if (kinds.has('front')) await apply.front();
      if (kinds.has('tunnel')) apply.tunnel();
      if (kinds.has('journal')) apply.journal(settings.journalDays);
      return { ...view(), applied };
    },
  };
}
