import { describe, expect, it } from 'vitest';
import type { FrontStatus, TunnelStatus } from '../../../protocol/local.ts';
import { judge } from '../../../face/verdict.ts';
import { describe as describeStatus } from '../../../main/core/summary.ts';
import { tunnelProblem } from '../../../main/core/tunnel/problems.ts';
import { versionFromPage } from '../../../protocol/front.ts';
import { explain, FrontError } from '../../../main/core/front/errors.ts';

const front = (state: FrontStatus['state']): FrontStatus => ({ state, url: null, latencyMs: null, checkedAt: null, since: null, source: null });
const tunnel = (state: TunnelStatus['state']): TunnelStatus => ({ state, since: null, rttMs: null, reconnects: 0, venueId: null, relayUrl: null });
const levelOf = (f: FrontStatus, t: TunnelStatus) => judge({ version: '1', startedAt: '', front: f, tunnel: t }).level;

describe('overall level', () => {
  it('is ok only when the plugin is up and the tunnel connected', () => {
    expect(levelOf(front('up'), tunnel('connected'))).toBe('ok');
    expect(levelOf(front('up'), tunnel('unpaired'))).toBe('warn');
    expect(levelOf(front('unknown'), tunnel('connected'))).toBe('warn');
    expect(levelOf(front('down'), tunnel('connected'))).toBe('error');
    expect(levelOf(front('unlicensed'), tunnel('unpaired'))).toBe('error');
    expect(levelOf(front('up'), tunnel('offline'))).toBe('error');
  });

  it('is error for a revoked device, with the reason in the text status', () => {
    const revoked: TunnelStatus = { ...tunnel('unpaired'), error: tunnelProblem('token_refused', { detail: 'device token revoked' }) };
    expect(levelOf(front('up'), revoked)).toBe('error');
    const text = describeStatus({ level: 'error', version: '1', startedAt: '', front: { ...front('up'), url: 'http://127.0.0.1:9042', latencyMs: 3 }, tunnel: revoked });
    expect(text).toMatch(/есть проблема/);
    expect(text).toContain(revoked.error!.message);
    expect(text).toContain(revoked.error!.hint!);
    expect(text).not.toMatch(/не настроена/);
  });
});

describe('plugin problems', () => {
  it('explain every code in Russian with the port and a hint', () => {
    for (const code of ['unreachable', 'timeout', 'unlicensed', 'bad_response', 'http', 'auth', 'not_plugin', 'not_found'] as const) {
      const p = explain(new FrontError(code), 'http://127.0.0.1:9051');
      expect(p.code).toBe(code);
      expect(p.message).toMatch(/[а-яё]/i);
      expect(p.hint).toMatch(/[а-яё]/i);
    }
    expect(explain(new FrontError('unreachable'), 'http://127.0.0.1:9051').message).toContain('9051');
  });

  it('reads the version from the root page', () => {
    expect(versionFromPage('<meta name="generator" content="iikoFront.WebApi 7.4.6012.0">')).toBe('7.4.6012.0');
    expect(versionFromPage('<p>Версия плагина: 6.2.1</p>')).toBe('6.2.1');
    expect(versionFromPage('<html>nothing</html>')).toBeUndefined();
  });
});
