/**
 * Frames written to one socket in one turn of the event loop leave in as few
 * socket writes as possible, without delaying the first.
 *
 * Why: at c=32 each end of a tunnel wrote one frame per call, one `write`
 * system call each (relay and companion ~2 writes per small call, half of them
 * to the tunnel), and on loopback a write also runs the peer's TCP receive
 * path; the CPU profiles put the socket writes first (docs/performance.md,
 * round two, eleventh part). Many calls' frames go to the same tunnel socket
 * in one turn (each caller's request, each plugin answer, read in the same
 * poll phase), so they can share a write.
 *
 * How: the first frame a socket gets in a turn is written at once (so the peer
 * starts on it and a lone call waits for nothing: holding every frame to the
 * end of the turn was tried in the first part and cost latency and
 * throughput). The socket is then corked; later frames of the same turn wait
 * in its buffer and leave together in one `writev` when the turn ends (one
 * shared `setImmediate` for every socket of the process, armed only in a turn
 * that wrote). Corked bytes count in `writableLength`, so backpressure reads
 * the same; `end()` uncorks (Node's Writable does); a socket about to be
 * destroyed must be flushed first (`flush`), or what it held is lost.
 */

/** The part of a net.Socket (or tls.TLSSocket) this needs. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/** The turn being written in: moves on when the shared end-of-turn runs. */
let turn = 0;
let armed = false;
/** Sockets corked in this turn, uncorked at its end. */
let held: Coalescer[] = [];
let spare: Coalescer[] = [];

function endTurn(): void {
  armed = false;
  turn++;
  const list = held;
  held = spare;
  spare = list;
  for (let i = 0; i < list.length; i++) list[i]!.flush();
  list.length = 0;
}

/** One socket's write coalescing (one small object per socket: no closure, no timer of its own). */
export class Coalescer {
  /** The turn this socket last wrote in (-1: never). */
  private wrote = -1;
  private corked = false;

  constructor(private readonly socket: Corkable) {}

  /** Call before each frame's write(s): the first of a turn goes at once, the rest are held until the turn ends. */
  before(): void {
    if (this.wrote !== turn) {
      this.wrote = turn;
      if (!armed) {
        armed = true;
        setImmediate(endTurn);
      }
      return;
    }
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    held.push(this);
  }

  /** Writes what is held now (before a destroy, which would drop it). */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  /** Whether frames are being held (for tests). */
  get holding(): boolean {
    return this.corked;
  }
}
