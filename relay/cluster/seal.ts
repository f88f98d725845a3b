/**
 * What the cluster secret seals in Redis, so that whoever can write to Redis
 * (it holds no secret) cannot make a node route calls to a listener of theirs
 * or act on their say-so: a node's registration (its id, address and a fresh
 * time), a venue's owner (venue, node, epoch) and every bus message. A
 * reader checks the seal in constant time and ignores what fails, as if the
 * key were not there. The hop's own signature is in hop.ts; the proof a hop's
 * receiver gives before it gets a call is `proveNode` here.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const HEX64 = /^[0-9a-f]{64}$/;

function mac(secret: string, ...parts: Array<string | number>): Buffer {
  return createHmac('sha256', secret).update(parts.join('\n')).digest();
}

function same(want: Buffer, hex: unknown): boolean {
  return typeof hex === 'string' && HEX64.test(hex) && timingSafeEqual(want, Buffer.from(hex, 'hex'));
}

/** A node's registration as sealed: its id, where the hop reaches it, when it started, and when this copy was written. */
export interface NodeFields { nodeId: string; url: string; startedAt: number; at: number }

export function sealNode(secret: string, n: NodeFields): string {
  return mac(secret, 'evva-node-v1', n.nodeId, n.url, n.startedAt, n.at).toString('hex');
}

export function nodeSealed(secret: string, n: NodeFields, sig: unknown): boolean {
  return same(mac(secret, 'evva-node-v1', n.nodeId, n.url, n.startedAt, n.at), sig);
}

/** `nodeId` holds the venue's tunnel at `epoch`. */
export function sealOwner(secret: string, venueId: string, nodeId: string, epoch: number): string {
  return mac(secret, 'evva-owner-v1', venueId, nodeId, epoch).toString('hex');
}

export function ownerSealed(secret: string, venueId: string, nodeId: string, epoch: number, sig: unknown): boolean {
  return same(mac(secret, 'evva-owner-v1', venueId, nodeId, epoch), sig);
}

/** A bus message's fields in a fixed order (JSON key order is not something to sign). */
export interface BusFields { t: string; venueId: string; from: string; nodeId?: string; epoch?: number }

export function sealBus(secret: string, m: BusFields): string {
  return mac(secret, 'evva-bus-v1', m.t, m.venueId, m.from, m.nodeId ?? '', m.epoch ?? '').toString('hex');
}

export function busSealed(secret: string, m: BusFields, sig: unknown): boolean {
  return same(mac(secret, 'evva-bus-v1', m.t, m.venueId, m.from, m.nodeId ?? '', m.epoch ?? ''), sig);
}

/**
 * The answer a node gives to a challenge before another node sends it a call:
 * a MAC over the challenge and the node's own id and address, so only a
 * holder of the secret can give it, and a node asked on someone else's behalf
 * (a listener relaying the challenge) proves only itself, not the id and
 * address the asker expects.
 */
export function proveNode(secret: string, challenge: string, nodeId: string, url: string): string {
  return mac(secret, 'evva-proof-v1', challenge, nodeId, url).toString('hex');
}

export function proofValid(secret: string, challenge: string, nodeId: string, url: string, proof: unknown): boolean {
  return same(mac(secret, 'evva-proof-v1', challenge, nodeId, url), proof);
}
