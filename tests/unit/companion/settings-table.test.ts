/**
 * One table per setting: the validator, the defaults and
 * the modules' own defaults all come from main/core/table.ts, every key says
 * its unit in its name and keeps that name and unit from settings.json to the
 * module, and a venue's settings.json from before the table loads unchanged.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { effectiveSettings, loadSettings } from '../../../main/core/settings.ts';
import { DEFAULTS, ROWS, SettingsFile, UNIT_SUFFIX, type Unit } from '../../../main/core/table.ts';
import { DEFAULT_FEED_SETTINGS } from '../../../main/core/feed/feed.ts';
import { DEFAULT_PAYMENT_RULE } from '../../../main/core/iiko/rules.ts';
import { DEFAULT_GATE_POLICY } from '../../../main/core/tunnel/gate.ts';
import { DEFAULT_TUNNEL_LIMITS } from '../../../main/core/tunnel/link.ts';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-settings-table-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** A settings.json as a venue wrote it before the table: every field the file format had, none at its default. */
const VENUE_FILE = {
  frontUrl: 'http://127.0.0.1:9043/',
  apiPort: 9150,
  moduleId: '2051',
  probeIntervalSec: 5,
  frontMaxAnswerBytes: 1_048_576,
  logLevel: 'debug',
  relayUrl: 'https://relay.example',
  proxy: '127.0.0.9:3128',
  allowInsecure: true,
  allowRemoteDiagnostics: false,
  externalPort: 19042,
  uiSessionDays: 7,
  journalDays: 14,
  language: 'en',
  tunnel: { allowMethods: ['GET', 'HEAD', 'POST'], maxRequestBytes: 1024, maxResponseBytes: 2048 },
  feed: {
    enabled: false, ordersIntervalMs: 500, staffIntervalSec: 30, tablesIntervalSec: 120, menuIntervalHours: 12,
    coalesceAbove: 500, evvaPaymentName: 'ЕВВА', paymentCloseAfterMin: 5, courierCodes: ['17', 'Иван'],
  },
};

describe('the settings table', () => {
  it('loads a venue\'s settings.json from before the table, every field under its old name and unit', () => {
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify(VENUE_FILE));
    const s = loadSettings({ dataDir: dir }, {});
    expect(s).toMatchObject({ ...VENUE_FILE, frontUrl: 'http://127.0.0.1:9043', proxy: 'http://127.0.0.9:3128' });
    for (const { key } of ROWS) expect(s.sources[key], key).toBe('file');
    // `evva-companion settings` shows each value as the file spells it: seconds stay seconds.
    const shown = effectiveSettings(s, {}).settings;
    expect(shown['feed.staffIntervalSec']?.value).toBe(30);
    expect(shown['feed.menuIntervalHours']?.value).toBe(12);
    expect(shown['feed.paymentCloseAfterMin']?.value).toBe(5);
    expect(shown.probeIntervalSec?.value).toBe(5);
  });

  it('names every quantity by its unit, and gives every unit-named key that unit', () => {
    const suffixOf = (key: string) => (Object.entries(UNIT_SUFFIX) as Array<[Unit, string]>).find(([, sfx]) => sfx && key.endsWith(sfx))?.[0];
    for (const { key, entry } of ROWS) {
      expect(suffixOf(key) ?? (entry.unit === 'count' ? 'count' : undefined), key).toBe(entry.unit);
    }
    expect(ROWS.filter((r) => r.entry.unit && r.entry.unit !== 'count').length).toBeGreaterThan(8);
  });

  it('has defaults its own validator accepts, describes each key in Russian and English', () => {
    expect(SettingsFile.safeParse(DEFAULTS).success).toBe(true);
    for (const { key, entry } of ROWS) {
      expect(SettingsFile.safeParse(entryValue(key, entry.default)).success, key).toBe(true);
      expect(entry.ru, key).toMatch(/[а-яё]{4,}/i);
      expect(entry.en, key).toMatch(/^[^а-яё]*[a-z]{4,}/i);
    }
  });

  it('hands out copies: a module changing its list changes neither the defaults nor the next load', () => {
    const s = loadSettings({ dataDir: dir }, {});
    s.feed.courierCodes.push('99');
    s.tunnel.allowMethods.push('POST');
    expect(DEFAULTS.feed.courierCodes).toEqual([]);
    expect(loadSettings({ dataDir: dir }, {}).tunnel.allowMethods).toEqual(['GET', 'HEAD']);
    expect(Object.isFrozen(DEFAULTS.tunnel.allowMethods)).toBe(true);
  });

  it('is where the modules take their defaults from when used without settings', () => {
    expect(DEFAULT_GATE_POLICY).toEqual({ allowMethods: DEFAULTS.tunnel.allowMethods, maxRequestBytes: DEFAULTS.tunnel.maxRequestBytes });
    expect(DEFAULT_TUNNEL_LIMITS.maxResponseBytes).toBe(DEFAULTS.tunnel.maxResponseBytes);
    expect(DEFAULT_FEED_SETTINGS).toMatchObject({
      ordersIntervalMs: DEFAULTS.feed.ordersIntervalMs, staffIntervalSec: DEFAULTS.feed.staffIntervalSec,
      tablesIntervalSec: DEFAULTS.feed.tablesIntervalSec, menuIntervalHours: DEFAULTS.feed.menuIntervalHours,
    });
    expect(DEFAULT_PAYMENT_RULE.nameContains).toBe(DEFAULTS.feed.evvaPaymentName);
  });
});

/** `{ key: value }`, or `{ section: { key: value } }` for a dotted key. */
function entryValue(key: string, value: unknown): unknown {
  const [top, sub] = key.split('.') as [string, string | undefined];
  return sub ? { [top]: { [sub]: value } } : { [top]: value };
}
