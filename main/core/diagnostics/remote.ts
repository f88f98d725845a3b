/**
 * Remote support on the companion's side: the commands the relay sends for
 * EVVA support (run diagnostics, tail the log, pull the bundle), each one
 * allowed only while the venue's "allow remote diagnostics" setting is on,
 * and each written to the audit log before it is answered, refusals included.
 *
 * The bundle does not fit one control frame, so it is pulled: `bundle.open`
 * starts the zip and `bundle.read` returns its next ≤ 32 KiB (base64) until
 * `done`. An abandoned bundle is dropped after BUNDLE_IDLE_MS.
 */
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  BUNDLE_CHUNK_BYTES, BundleCloseArgs, BundleOpenArgs, BundleReadArgs, DiagnoseArgs, LOG_TAIL_MAX_BYTES, LogsArgs, SupportCommands,
  type AuditEntry, type BundleChunk, type LogTail, type Report, type Requester,
} from '../../../protocol/diagnostics.ts';
import type { Clock } from '../../../common/clock.ts';
import { CommandError, type Commands } from '../commands.ts';
import type { Logger } from '../../../common/logger.ts';
import type { Audit } from './audit.ts';
import { tailLines } from './logs.ts';
import { RESULT_WORD, type Text } from './catalogue.ts';

/** A bundle nobody has read from for this long is dropped. */
export const BUNDLE_IDLE_MS = 60_000;
/** Bundles being pulled at once. */
export const MAX_OPEN_BUNDLES = 2;

export interface RemoteDeps {
  commands: Commands;
  audit: Audit;
  /** Read on every command, so switching the setting off takes effect at once. */
  allowed(): boolean;
  diagnose(): Promise<Report>;
  bundle(): Promise<{ name: string; stream: Readable }>;
  dataDir: string;
  clock: Clock;
  logger: Logger;
}

interface OpenBundle { iter: AsyncIterator<Buffer>; pending: Buffer; ended: boolean; stream: Readable; idle: NodeJS.Timeout | undefined }

/** Registers the support commands; `close()` drops bundles still open; `counts()` is per `action|outcome`. */
export function registerRemote(d: RemoteDeps): { close(): void; counts(): Record<string, number> } {
  const log = d.logger.child({ part: 'support' });
  const bundles = new Map<string, OpenBundle>();
  const counts: Record<string, number> = {};

  function parse<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, args: unknown): T {
    const r = schema.safeParse(args);
    if (!r.success) throw new CommandError('bad_args', 'arguments do not match the command');
    return r.data;
  }

  /** Runs an audited action: refused while the setting is off, recorded whatever happens. */
  async function audited<T>(action: string, by: Requester, work: () => Promise<T>, detail?: (r: T) => Text): Promise<T> {
    const entry = (outcome: AuditEntry['outcome'], more?: Text | string): AuditEntry => {
      counts[`${action}|${outcome}`] = (counts[`${action}|${outcome}`] ?? 0) + 1;
      const text = typeof more === 'string' ? { ru: more, en: more } : more;
      return { at: new Date(d.clock.now()).toISOString(), action, by, outcome, ...(text ? { detail: text.ru.slice(0, 300), detailEn: text.en.slice(0, 300) } : {}) };
    };
    if (!d.allowed()) {
      d.audit.record(entry('refused', { ru: 'удалённая диагностика выключена в настройках', en: 'remote diagnostics are switched off in the settings' }));
      log.info('remote support refused: switched off', { action, by });
      throw new CommandError('disabled', 'remote diagnostics are switched off at this venue');
    }
    try {
      const r = await work();
      d.audit.record(entry('done', detail?.(r)));
      log.info('remote support action', { action, by });
      return r;
    } catch (e) {
      d.audit.record(entry('failed', e instanceof Error ? e.message : String(e)));
      throw e;
    }
  }

  d.commands.register(SupportCommands.diagnose, async (args) => {
    const { by } = parse(DiagnoseArgs, args);
    return audited('diagnostics.run', by, () => d.diagnose(), (r) => ({ ru: `итог: ${RESULT_WORD[r.summary.result].ru}`, en: `result: ${RESULT_WORD[r.summary.result].en}` }));
  });

  d.commands.register(SupportCommands.logs, async (args) => {
    const { by, lines } = parse(LogsArgs, args);
    return audited('logs.tail', by, async (): Promise<LogTail> => {
      const tail = tailLines(d.dataDir, lines);
      // The answer must fit one control frame: leave out the oldest lines until it does.
      let size = tail.lines.reduce((n, l) => n + Buffer.byteLength(JSON.stringify(l)) + 1, 0);
      let dropped = 0;
      while (size > LOG_TAIL_MAX_BYTES && tail.lines.length) {
        size -= Buffer.byteLength(JSON.stringify(tail.lines.shift())) + 1;
        dropped++;
      }
      return { ...tail, dropped };
    }, (r) => ({ ru: `строк: ${r.lines.length}`, en: `${r.lines.length} lines` }));
  });

  const expire = (id: string) => {
    const b = bundles.get(id);
    if (!b) return;
    bundles.delete(id);
    d.clock.clearTimeout(b.idle);
    b.stream.destroy();
  };
  const touch = (id: string, b: OpenBundle) => {
    d.clock.clearTimeout(b.idle);
    b.idle = d.clock.setTimeout(() => expire(id), BUNDLE_IDLE_MS);
    b.idle.unref?.();
  };

  d.commands.register(SupportCommands.bundleOpen, async (args) => {
    const { by } = parse(BundleOpenArgs, args);
    return audited('bundle.open', by, async () => {
      if (bundles.size >= MAX_OPEN_BUNDLES) throw new CommandError('busy', 'another bundle is being taken; try again in a minute');
      const { name, stream } = await d.bundle();
      const id = crypto.randomBytes(9).toString('base64url');
      const b: OpenBundle = { iter: stream[Symbol.asyncIterator](), pending: Buffer.alloc(0), ended: false, stream, idle: undefined };
      bundles.set(id, b);
      touch(id, b);
      return { id, name };
    }, (r) => ({ ru: r.name, en: r.name }));
  });

  d.commands.register(SupportCommands.bundleRead, async (args): Promise<BundleChunk> => {
    const { id } = parse(BundleReadArgs, args);
    const b = bundles.get(id);
    if (!b) throw new CommandError('bad_args', 'no such bundle (finished or expired)');
    if (!d.allowed()) {
      // Switched off mid-transfer: stop here, not after the last chunk.
      expire(id);
      throw new CommandError('disabled', 'remote diagnostics are switched off at this venue');
    }
    touch(id, b);
    while (b.pending.length < BUNDLE_CHUNK_BYTES && !b.ended) {
      const next = await b.iter.next();
      if (next.done) b.ended = true;
      else b.pending = Buffer.concat([b.pending, next.value]);
    }
    const out = b.pending.subarray(0, BUNDLE_CHUNK_BYTES);
    b.pending = b.pending.subarray(out.length);
    const done = b.ended && b.pending.length === 0;
    if (done) expire(id);
    return { data: out.toString('base64'), done };
  });

  // The relay's caller went away mid-download: free the slot now (not audited: it only ends an audited bundle.open).
  d.commands.register(SupportCommands.bundleClose, async (args) => {
    const { id } = parse(BundleCloseArgs, args);
    const had = bundles.has(id);
    expire(id);
    if (had) log.info('remote bundle abandoned by the caller; dropped');
    return { closed: had };
  });

  return { close: () => { for (const id of [...bundles.keys()]) expire(id); }, counts: () => ({ ...counts }) };
}
