/**
 * docs/settings.md is the settings schema's own description:
 * a key added to settings.json's schema without documentation, or a doc that
 * drifted from the code, fails here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadSettings, SETTING_SPECS } from '../../../main/core/settings.ts';
import { SettingsFile } from '../../../main/core/table.ts';
import { DOC_FILE, render } from '../../../scripts/settings-doc.ts';

/** Every leaf key of an object schema, dotted (tunnel.maxRequestBytes). */
function leaves(schema: z.ZodType, prefix = ''): string[] {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  if (!(s instanceof z.ZodObject)) return [prefix];
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

describe('docs/settings.md', () => {
  it('documents every key of the settings schema, and nothing else', () => {
    const keys = leaves(SettingsFile);
    expect(keys.length).toBeGreaterThan(5);
    expect(SETTING_SPECS.map((s) => s.key).sort()).toEqual([...keys].sort());
    for (const s of SETTING_SPECS) {
      expect(s.about.length, s.key).toBeGreaterThan(20);
      expect(s.en.length, s.key).toBeGreaterThan(20);
    }
  });

  it('is what the schema renders (run `npm run docs:settings` after changing SETTING_SPECS)', () => {
    expect(fs.readFileSync(DOC_FILE, 'utf8')).toBe(render());
    for (const s of SETTING_SPECS) expect(render()).toContain(`| \`${s.key}\` |`);
  });

  it('names only environment variables and flags the companion really reads', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-settings-doc-'));
    try {
      const valid: Record<string, string> = {
        frontUrl: 'http://127.0.0.1:9042', apiPort: '9300', logLevel: 'debug', relayUrl: 'https://relay.example', proxy: 'proxy.corp:3128',
      };
      for (const s of SETTING_SPECS.filter((x) => x.env)) {
        expect(valid[s.key], `a sample value for ${s.key}`).toBeDefined();
        expect(loadSettings({ dataDir: dir }, { [s.env!]: valid[s.key] }).sources[s.key], s.env).toBe('env');
      }
      const flagKey: Record<string, keyof Parameters<typeof loadSettings>[0]> = {
        '--front-url': 'frontUrl', '--api-port': 'apiPort', '--log-level': 'logLevel', '--relay-url': 'relayUrl', '--proxy': 'proxy', '--allow-insecure': 'allowInsecure',
      };
      for (const s of SETTING_SPECS.filter((x) => x.flag)) {
        const k = flagKey[s.flag!];
        expect(k, s.flag).toBeDefined();
        const v = s.key === 'allowInsecure' ? true : valid[s.key];
        expect(loadSettings({ dataDir: dir, [k!]: v }, {}).sources[s.key], s.flag).toBe('flag');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
