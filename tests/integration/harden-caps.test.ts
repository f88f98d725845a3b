/**
 * Issue 6 item 9: answers the core reads whole are capped (a setting); a huge
 * one is refused as too_large instead of being held in memory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../common/clock.ts';
import { createFrontClient } from '../../main/core/front/client.ts';
import { explain } from '../../main/core/front/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { loadSettings, SettingsError } from '../../main/core/settings.ts';
import { Section } from '../../protocol/front.ts';
import { startFakePlugin, type FakePlugin } from '../helpers/plugin.ts';

const plugins: FakePlugin[] = [];
afterEach(async () => { for (const p of plugins.splice(0)) await p.close(); });

describe('plugin answers read whole', () => {
  it('refuses an answer over the cap as too_large, with a Russian explanation naming the setting', async () => {
    const plugin = await startFakePlugin({ sectionsBytes: 200 * 1024 * 1024 });
    plugins.push(plugin);
    const client = createFrontClient({ baseUrl: plugin.url, moduleId: '2050', clock: realClock, logger: silentLogger, maxAnswerBytes: 1024 * 1024, timeoutMs: 30_000 });
    const rss0 = process.memoryUsage().rss;
    const err = await client.get('/api/sections', z.array(Section)).then(() => null, (e: unknown) => e as { code: string });
    expect(err?.code).toBe('too_large');
    // Far below the 200 MB the plugin offered.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 1024 * 1024);
    const p = explain(err, plugin.url);
    expect(p.message).toMatch(/слишком большой ответ/);
    expect(p.hint).toMatch(/перезапустите iikoFront/);
    expect(p.command).toMatch(/frontMaxAnswerBytes/);
    await client.close();
  }, 60_000);

  it('reads answers under the cap as before', async () => {
    const plugin = await startFakePlugin();
    plugins.push(plugin);
    const client = createFrontClient({ baseUrl: plugin.url, moduleId: '2050', clock: realClock, logger: silentLogger, maxAnswerBytes: 64 * 1024 });
    expect(await client.get('/api/sections', z.array(Section))).toEqual([]);
    await client.close();
  });

  it('takes the cap from settings.json and refuses a silly one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evva-cap-'));
    try {
      fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ frontMaxAnswerBytes: 2_000_000 }));
      expect(loadSettings({ dataDir: dir }, {}).frontMaxAnswerBytes).toBe(2_000_000);
      fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ frontMaxAnswerBytes: 10 }));
      expect(() => loadSettings({ dataDir: dir }, {})).toThrow(SettingsError);
      fs.rmSync(path.join(dir, 'settings.json'));
      expect(loadSettings({ dataDir: dir }, {}).frontMaxAnswerBytes).toBe(32 * 1024 * 1024);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
