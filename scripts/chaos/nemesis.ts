/**
 * The faults the soak injects, each drawn from the run's seeded stream: what
 * breaks, for how long, and how it is put right. Every fault ends with the
 * rig whole again (relay and companion running, link, plugin and receiver
 * healthy), so the next one starts from a working venue.
 */
import type { Rng } from '../../sim/random.ts';
import type { Rig } from './rig.ts';

export const FAULT_KINDS = [
  'relay-term', 'relay-kill', 'link-blackhole', 'link-throttle', 'link-reset',
  'plugin-restart', 'plugin-500', 'plugin-hang', 'plugin-malformed', 'plugin-slow',
  'companion-kill', 'companion-kill-queued', 'companion-kill-payment',
  'receiver-500', 'receiver-hang', 'clock-jump',
] as const;
export type FaultKind = typeof FAULT_KINDS[number];

/** How often each kind is drawn, relative to the others. */
const WEIGHTS: Record<FaultKind, number> = {
  'relay-term': 2, 'relay-kill': 2, 'link-blackhole': 2, 'link-throttle': 1.5, 'link-reset': 1.5,
  'plugin-restart': 1.5, 'plugin-500': 1, 'plugin-hang': 1, 'plugin-malformed': 1, 'plugin-slow': 1,
  'companion-kill': 2, 'companion-kill-queued': 1.5, 'companion-kill-payment': 1.5,
  'receiver-500': 1.5, 'receiver-hang': 1, 'clock-jump': 1,
};

export interface Injected { kind: FaultKind; detail: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Picks one kind among `allowed`, by weight. */
export function pickFault(rng: Rng, allowed: readonly FaultKind[]): FaultKind {
  const w = Object.fromEntries(allowed.map((k) => [k, WEIGHTS[k]])) as Record<FaultKind, number>;
  return rng.weighted(w);
}

/**
 * Injects `kind`, holds it, and puts things right; resolves when the fault is
 * over (not when the feed has healed: the caller measures that).
 * `payNow` posts a payment notice on a fresh order (for kills while a payment is watched).
 */
export async function inject(rig: Rig, rng: Rng, kind: FaultKind, payNow: () => Promise<void>): Promise<Injected> {
  const hold = (min: number, max: number) => rng.int(min, max) * 1000;
  switch (kind) {
    case 'relay-term':
    case 'relay-kill': {
      const d = hold(1, 10);
      await rig.relay().stop(kind === 'relay-term' ? 'SIGTERM' : 'SIGKILL');
      await sleep(d);
      await rig.startRelay();
      return { kind, detail: `down ${d / 1000} s` };
    }
    case 'link-blackhole': {
      const d = hold(3, 25);
      rig.proxy.blackhole({ newToo: true });
      await sleep(d);
      rig.proxy.heal();
      return { kind, detail: `${d / 1000} s` };
    }
    case 'link-throttle': {
      const rate = rng.int(2, 30) * 1000;
      const latency = rng.int(50, 500);
      const d = hold(5, 20);
      rig.proxy.throttle(rate, latency);
      await sleep(d);
      rig.proxy.heal();
      return { kind, detail: `${rate / 1000} kB/s +${latency} ms for ${d / 1000} s` };
    }
    case 'link-reset':
      rig.proxy.reset();
      return { kind, detail: 'RST on every connection' };
    case 'plugin-restart':
      await rig.sim('POST', 'restart');
      return { kind, detail: 'tokens dropped' };
    case 'plugin-500':
    case 'plugin-hang':
    case 'plugin-malformed':
    case 'plugin-slow': {
      const d = hold(3, 15);
      const f = kind === 'plugin-500' ? { errorRate: rng.pick([0.3, 0.7, 1]) }
        : kind === 'plugin-hang' ? { hang: true }
          : kind === 'plugin-malformed' ? { malformed: true }
            : { latencyMs: rng.int(1500, 5000) };
      await rig.sim('POST', 'faults', f);
      await sleep(d);
      await rig.sim('DELETE', 'faults');
      return { kind, detail: `${JSON.stringify(f)} for ${d / 1000} s` };
    }
    case 'companion-kill': {
      const d = hold(0, 4);
      await rig.companion().stop('SIGKILL');
      await sleep(d);
      await rig.startCompanion();
      return { kind, detail: `kill -9, down ${d / 1000} s` };
    }
    case 'companion-kill-queued': {
      // The link goes quiet so changes pile up unacknowledged in the outbox; then the companion dies hard.
      const d = hold(3, 10);
      rig.proxy.blackhole({ newToo: true });
      await sleep(d);
      await rig.companion().stop('SIGKILL');
      await rig.startCompanion();
      await sleep(hold(1, 3));
      rig.proxy.heal();
      return { kind, detail: `link quiet ${d / 1000} s, kill -9 with the outbox full, restart` };
    }
    case 'companion-kill-payment': {
      await payNow();
      await sleep(rng.int(0, 1500));
      await rig.companion().stop('SIGKILL');
      await sleep(hold(0, 3));
      await rig.startCompanion();
      return { kind, detail: 'kill -9 just after a payment notice' };
    }
    case 'receiver-500':
    case 'receiver-hang': {
      const d = kind === 'receiver-hang' ? hold(5, 25) : hold(3, 20);
      rig.receiver.mode(kind === 'receiver-500' ? 'fail' : 'hang');
      await sleep(d);
      rig.receiver.mode('ok');
      return { kind, detail: `${d / 1000} s` };
    }
    case 'clock-jump': {
      const min = rng.int(5, 120);
      rig.jumpClock(min * 60_000);
      return { kind, detail: `+${min} min (total +${Math.round(rig.clockOffset() / 60_000)} min)` };
    }
  }
}
