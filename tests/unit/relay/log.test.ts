import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRelayLogger } from '../../../relay/log.ts';

/** The JSON lines the relay's logger writes (stdout, errors to stderr) for what `fn` logs (winston hands them on a turn later). */
async function linesOf(fn: () => void): Promise<Array<Record<string, unknown>>> {
  const out: string[] = [];
  // winston's Console transport writes to console._stdout and _stderr (process's in Node; the test runner's own here).
  const streams = console as unknown as { _stdout: NodeJS.WriteStream; _stderr: NodeJS.WriteStream };
  const spies = [streams._stdout, streams._stderr].map((s) => vi.spyOn(s, 'write').mockImplementation((chunk: string | Uint8Array) => { out.push(String(chunk)); return true; }));
  try {
    fn();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  } finally { for (const s of spies) s.mockRestore(); }
  return out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

afterEach(() => { vi.restoreAllMocks(); });

describe("the relay's logger", () => {
  it('says which levels it writes, and writes exactly those, redacted (a hot path asks before it builds a line)', async () => {
    const info = createRelayLogger({ level: 'info' }).child({ part: 'proxy' });
    expect([info.enabled?.('error'), info.enabled?.('warn'), info.enabled?.('info'), info.enabled?.('debug')]).toEqual([true, true, true, false]);
    const written = await linesOf(() => {
      info.debug('venue call', { path: '/api/orders' });
      info.info('venue call', { path: '/api/orders', token: 'evd_secretsecret' });
      info.debug('venue call', { path: '/api/orders' });
    });
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ level: 'info', message: 'venue call', part: 'proxy', path: '/api/orders', svc: 'evva-relay' });
    expect(JSON.stringify(written)).not.toContain('evd_secretsecret');

    const debug = createRelayLogger({ level: 'debug' });
    expect(debug.enabled?.('debug')).toBe(true);
    expect(await linesOf(() => debug.child({ part: 'proxy' }).debug('venue call', { status: 200 }))).toMatchObject([{ level: 'debug', status: 200, part: 'proxy' }]);
    const quiet = createRelayLogger({ level: 'error' });
    expect([quiet.enabled?.('error'), quiet.enabled?.('warn')]).toEqual([true, false]);
    expect((await linesOf(() => { quiet.warn('w'); quiet.error('e'); })).map((l) => l.level)).toEqual(['error']);
  });
});
