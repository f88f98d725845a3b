/**
 * The proof a node asks of another before sending it a call: that it holds
 * the cluster secret (seal.ts). Apart from the hop itself (hop.ts), which
 * only moves calls once the target is proven.
 */
import { randomBytes } from 'node:crypto';
import { request, type Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { HOP_CHALLENGE_HEADER, HOP_PROOF_PATH, HOP_PROOF_TTL_MS } from '../../protocol/cluster.ts';
import { RelayErrorCode } from '../../protocol/relay.ts';
import { HOP_CONNECT_TIMEOUT_MS, one, sendJson } from './hop.ts';
import { proofValid, proveNode } from './seal.ts';

/**
 * Before a node sends a call to another, the other proves it holds the
 * cluster secret: it answers a fresh challenge with a MAC bound to its own id
 * and address (seal.ts proveNode). A listener that got into Redis's routing
 * (or onto a node's address) cannot, so it never gets a call, its body or the
 * caller's key fingerprint. A proof holds for HOP_PROOF_TTL_MS per node and
 * address; a failed one is not cached.
 */
export class Prover {
  private readonly proven = new Map<string, number>();
  private readonly pending = new Map<string, Promise<ProofResult>>();

  constructor(private readonly secret: string, private readonly agent: Agent, private readonly now: () => number = () => performance.now()) {}

  /**
   * `ok` once `target` has proved itself (now or within the TTL); `refused`
   * when it answered without a valid proof (not a cluster node); `unreachable`
   * when it did not answer within `timeoutMs` (slow or gone: like any node that
   * cannot be reached, not an impostor).
   */
  ensure(target: { nodeId: string; url: string }, timeoutMs = HOP_CONNECT_TIMEOUT_MS): Promise<ProofResult> {
    const key = `${target.nodeId} ${target.url}`;
    const until = this.proven.get(key);
    if (until !== undefined && until > this.now()) return Promise.resolve('ok');
    let p = this.pending.get(key);
    if (!p) {
      p = this.ask(target, timeoutMs).then((r) => {
        if (r === 'ok') {
          if (this.proven.size > 1_000) this.proven.clear();
          this.proven.set(key, this.now() + HOP_PROOF_TTL_MS);
        } else this.proven.delete(key);
        return r;
      }).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  /** Forgets every proof (tests; a node that failed a call's answer check). */
  forget(): void {
    this.proven.clear();
  }

  private ask(target: { nodeId: string; url: string }, timeoutMs: number): Promise<ProofResult> {
    const challenge = randomBytes(32).toString('hex');
    return new Promise((resolve) => {
      let base: URL;
      try {
        base = new URL(target.url);
      } catch {
        return resolve('unreachable');
      }
      let settled = false;
      const done = (r: ProofResult) => { if (!settled) { settled = true; clearTimeout(timer); resolve(r); } };
      const r = request({
        protocol: base.protocol, hostname: base.hostname, port: base.port, method: 'GET', agent: this.agent,
        path: base.pathname.replace(/\/+$/, '') + HOP_PROOF_PATH, headers: { [HOP_CHALLENGE_HEADER]: challenge },
      }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { if (body.length < 1_024) body += d; });
        res.on('end', () => {
          try {
            const j = JSON.parse(body) as { nodeId?: unknown; proof?: unknown };
            done(res.statusCode === 200 && j.nodeId === target.nodeId && proofValid(this.secret, challenge, target.nodeId, target.url, j.proof) ? 'ok' : 'refused');
          } catch {
            done('refused');
          }
        });
        res.on('error', () => done('unreachable'));
      });
      const timer = setTimeout(() => { r.destroy(); done('unreachable'); }, Math.max(1, timeoutMs));
      r.on('error', () => done('unreachable'));
      r.end();
    });
  }
}

export type ProofResult = 'ok' | 'refused' | 'unreachable';

/** The answer to another node's challenge (GET HOP_PROOF_PATH): this node's id and its proof. */
export function answerProof(req: IncomingMessage, res: ServerResponse, secret: string, nodeId: string, advertise: string): void {
  const c = one(req.headers[HOP_CHALLENGE_HEADER]);
  if (req.method !== 'GET' || !c || !/^[0-9a-f]{64}$/.test(c)) return sendJson(res, 400, { error: RelayErrorCode.badRequest, message: 'a 64-hex challenge is needed' });
  sendJson(res, 200, { nodeId, proof: proveNode(secret, c, nodeId, advertise) });
}
