/**
 * Commands down the tunnel: the relay asks, the companion's one dispatcher
 * answers, and every way a command can go wrong comes back as a code the
 * relay can act on instead of a hang or a closed link.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CommandError, createCommands } from '../../../main/core/commands.ts';
import { silentLogger } from '../../../common/logger.ts';
import type { Upstream } from '../../../main/core/upstream.ts';
import { CommandFailed } from '../../../relay/link.ts';
import { pairedVenue, startRelay, tempDir, tunnelFor, waitFor } from '../../helpers/relay.ts';

const nothing: Upstream = { async forward() { throw new Error('no upstream in this test'); } };

describe('commands through the tunnel', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const dir = tempDir('companion');
    cleanups.push(() => dir.remove());
    const relay = await startRelay();
    cleanups.push(() => relay.close());
    const venue = await pairedVenue(relay.url, dir.dir);
    const commands = createCommands(silentLogger);
    const tunnel = tunnelFor(relay.url, venue, nothing, { commands });
    cleanups.push(() => tunnel.stop());
    await waitFor(() => relay.relay.tunnels.get(venue.venueId)?.hello != null, 'tunnel up');
    return { relay, venue, commands, tunnel, link: () => relay.relay.tunnels.get(venue.venueId)! };
  }

  it('returns what the registered handler returns, with the arguments the relay sent', async () => {
    const { commands, link } = await setup();
    commands.register('echo', async (args) => ({ got: args }));
    await expect(link().command('echo', { n: 7 })).resolves.toEqual({ got: { n: 7 } });
  });

  it('answers an unknown command with unsupported, and the link stays up for the next one', async () => {
    const { commands, link } = await setup();
    commands.register('ping2', async () => 'pong');
    const err = await link().command('nope', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).code).toBe('unsupported');
    await expect(link().command('ping2', null)).resolves.toBe('pong');
  });

  it('passes a handler\'s CommandError code through, and hides other errors behind failed', async () => {
    const { commands, link } = await setup();
    commands.register('off', async () => { throw new CommandError('disabled', 'remote diagnostics are off'); });
    commands.register('boom', async () => { throw new Error('secret internals'); });
    const off = (await link().command('off', null).catch((e: unknown) => e)) as CommandFailed;
    expect([off.code, off.message]).toEqual(['disabled', 'remote diagnostics are off']);
    const boom = (await link().command('boom', null).catch((e: unknown) => e)) as CommandFailed;
    expect(boom.code).toBe('failed');
    expect(boom.message).not.toContain('secret internals');
  });

  it('says too_large when a result does not fit one control frame, without closing the link', async () => {
    const { commands, link } = await setup();
    commands.register('huge', async () => 'x'.repeat(200_000));
    commands.register('small', async () => 1);
    const l = link();
    const err = (await l.command('huge', null).catch((e: unknown) => e)) as CommandFailed;
    expect(err.code).toBe('too_large');
    expect(l.closed).toBe(false);
    await expect(l.command('small', null)).resolves.toBe(1);
  });

  it('times out a command the companion never answers', async () => {
    const { commands, link } = await setup();
    commands.register('hang', () => new Promise(() => {}));
    const err = (await link().command('hang', null, 300).catch((e: unknown) => e)) as CommandFailed;
    expect(err.code).toBe('timeout');
  });

  it('fails a waiting command with link_lost when the tunnel closes under it', async () => {
    const { commands, link, tunnel } = await setup();
    commands.register('hang', () => new Promise(() => {}));
    const pending = link().command('hang', null, 10_000).catch((e: unknown) => e);
    await tunnel.stop();
    const err = (await pending) as CommandFailed;
    expect(err.code).toBe('link_lost');
  });

  it('refuses to register one name twice (a wiring bug, caught at start)', () => {
    const commands = createCommands(silentLogger);
    commands.register('a', async () => 1);
    expect(() => commands.register('a', async () => 2)).toThrow(/twice/);
  });
});
