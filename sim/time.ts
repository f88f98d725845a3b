/**
 * The sim's two times. Wall time (injected `now`) drives sockets, latency and
 * token lifetime. Restaurant time runs from a start instant at `speed` times
 * wall time, so at speed 60 the restaurant lives a minute per second; every
 * time the plugin shows (OpenTime, PrintTime, ...) is restaurant time.
 */
export class SimClock {
  private wallBase: number;
  private simBase: number;

  constructor(
    private readonly wall: () => number,
    start: number,
    private rate: number,
    /** Minutes east of UTC that times are shown in, like the POS's zone. */
    readonly offsetMinutes: number,
  ) {
    this.wallBase = wall();
    this.simBase = start;
  }

  private held: number | null = null;

  /** Restaurant time, milliseconds since the epoch. Never goes backwards while speed >= 0. */
  now(): number {
    if (this.held !== null) return this.held;
    return Math.floor(this.simBase + (this.wall() - this.wallBase) * this.rate);
  }

  /** Stops restaurant time (while the seed builds the morning, so the same seed gives the same times). */
  hold(): void {
    this.held = this.now();
  }

  /** Lets restaurant time run again from where it was held. */
  release(): void {
    if (this.held === null) return;
    this.simBase = this.held;
    this.wallBase = this.wall();
    this.held = null;
  }

  get speed(): number {
    return this.rate;
  }

  /** Changes the rate from this moment on, without a jump. */
  setSpeed(speed: number): void {
    if (this.held !== null) { this.rate = speed; return; }
    this.simBase = this.now();
    this.wallBase = this.wall();
    this.rate = speed;
  }

  /** Moves restaurant time forward by `ms` at once (tests, `tick`). */
  advance(ms: number): void {
    const step = Math.max(0, ms);
    if (this.held !== null) this.held += step;
    else this.simBase += step;
  }

  /** ISO 8601 with the configured offset, .NET style: `2025-01-28T12:31:49.56+03:00`. */
  format(ms: number): string {
    return formatTime(ms, this.offsetMinutes);
  }
}

/** ISO 8601 local time with offset; fraction trimmed of trailing zeros, as .NET's "o"-like output shows it. */
export function formatTime(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const base = local.slice(0, 19);
  const frac = local.slice(20, 23).replace(/0+$/, '');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${base}${frac ? `.${frac}` : ''}${sign}${hh}:${mm}`;
}

/** `HH:MM:SS` for a duration in minutes, as the kitchen screen's CookingTime shows it. */
export function formatDuration(minutes: number): string {
  const total = Math.max(0, Math.round(minutes * 60));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h, m, s].map((n) => String(n).padStart(2, '0')).join(':');
}
