/** The relay's probe-back refuses every address that is not a public one, unless the test flag lets loopback through. */
import type { IncomingMessage } from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { probeBack, refusal } from '../../../relay/probeback.ts';
import { peerOf } from '../../../relay/edge.ts';

describe('probe-back address rules', () => {
  it.each([
    '10.1.2.3', '172.16.0.1', '172.31.255.254', '192.168.1.10', '169.254.10.10', '100.64.0.1', '0.0.0.0', '224.0.0.1',
    '::1', 'fe80::1', 'fc00::1', 'fd12:3456::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1', '::', 'ff02::1',
  ])('refuses %s outside test mode', (ip) => {
    expect(refusal(ip, false)).not.toBeNull();
  });

  it.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])('lets loopback %s through only with the test flag', (ip) => {
    expect(refusal(ip, false)).not.toBeNull();
    expect(refusal(ip, true)).toBeNull();
  });

  it.each(['10.0.0.1', '192.168.0.1', '169.254.1.1', 'fe80::1'])('still refuses private %s with the test flag', (ip) => {
    expect(refusal(ip, true)).not.toBeNull();
  });

  it.each(['8.8.8.8', '93.184.216.34', '2a00:1450:4010:c05::8b'])('allows public %s', (ip) => {
    expect(refusal(ip, false)).toBeNull();
  });

  it('refuses host names, so no DNS answer can point it inside', () => {
    expect(refusal('localhost', true)).toBe('не IP-адрес');
    expect(refusal('relay.example', false)).toBe('не IP-адрес');
  });

  it('does not even connect to a refused address', async () => {
    const r = await probeBack('192.168.1.1', 80, false);
    expect(r).toMatchObject({ outcome: 'refused', ip: '192.168.1.1', port: 80 });
    expect(r.status).toBeUndefined();
  });
});

describe('the tunnel source address the probe-back targets', () => {
  const req = (xff?: string) => ({ socket: { remoteAddress: '::ffff:127.0.0.1' }, headers: xff ? { 'x-forwarded-for': xff } : {} }) as unknown as IncomingMessage;
  const trust = (hops: number | false) => express().set('trust proxy', hops).get('trust proxy fn') as (a: string, i: number) => boolean;

  it('is the socket address when no proxy is trusted, whatever X-Forwarded-For claims', () => {
    expect(peerOf(req('8.8.8.8'), trust(false))).toBe('127.0.0.1');
  });

  it('behind one trusted proxy is the address that proxy saw, not what the client wrote first', () => {
    expect(peerOf(req('6.6.6.6, 203.0.113.7'), trust(1))).toBe('203.0.113.7');
  });
});
