/**
 * `evva-relay support VENUE_ID diagnose|logs|bundle`: EVVA support's one
 * command, a thin client of a running relay's support API (API key). It
 * prints the venue's report as the same Russian table the venue sees, the
 * redacted log tail, or saves the bundle zip. Exit 1 when a check failed or
 * the relay refused; 2 for bad usage.
 */
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { fetch } from 'undici';
import { reportText } from '../face/report.ts';
import { LogTail, MAX_LOG_LINES, Report } from '../protocol/diagnostics.ts';
import { REFUSALS, apiKeyFrom } from './admin.ts';

const USAGE = 'usage: evva-relay support VENUE_ID diagnose|logs|bundle [--relay-url URL] [--api-key KEY] [--json] [--en] [--lines N] [--out FILE]';
/** A diagnose waits for the venue's ≤ 5 s run plus the tunnel; a bundle may take longer over a slow line. */
const TIMEOUT_MS = { diagnose: 20_000, logs: 20_000, bundle: 300_000 } as const;

/** Runs one support command; resolves to the exit code. */
export async function supportCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: {
        'relay-url': { type: 'string' }, 'api-key': { type: 'string' }, json: { type: 'boolean' }, lines: { type: 'string' }, out: { type: 'string' },
        en: { type: 'boolean' },
      },
    });
  } catch (e) {
    console.error(`evva-relay: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [venueId, action] = positionals;
  if (!venueId || !action || positionals.length !== 2 || !['diagnose', 'logs', 'bundle'].includes(action)) {
    console.error(`evva-relay: support needs a venue id and one of diagnose, logs, bundle\n${USAGE}`);
    return 2;
  }
  const lines = values.lines === undefined ? 200 : Number(values.lines);
  if (!Number.isInteger(lines) || lines < 1 || lines > MAX_LOG_LINES) {
    console.error(`evva-relay: --lines must be 1..${MAX_LOG_LINES}\n${USAGE}`);
    return 2;
  }
  const base = (values['relay-url'] ?? process.env.EVVA_RELAY_URL ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
  const key = apiKeyFrom(values['api-key']);
  if (!key) {
    console.error(`evva-relay: support needs an API key: --api-key KEY or EVVA_RELAY_API_KEYS\n${USAGE}`);
    return 2;
  }
  const venue = encodeURIComponent(venueId);
  const path = action === 'diagnose' ? `diagnostics` : action === 'logs' ? `logs?lines=${lines}` : 'bundle';
  let res;
  try {
    res = await fetch(`${base}/v1/venues/${venue}/${path}`, {
      method: action === 'diagnose' ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(TIMEOUT_MS[action as keyof typeof TIMEOUT_MS]),
    });
  } catch (e) {
    console.error(`evva-relay: cannot reach the relay at ${base}: ${(e as Error).message}`);
    return 1;
  }
  if (res.status !== 200) {
    const body = await res.json().catch(() => ({})) as { error?: string; message?: string };
    const why = (body.error && REFUSALS[body.error]) ?? body.message ?? '';
    console.error(`evva-relay: ${res.status} ${body.error ?? ''}${why ? `: ${why}` : ''}`);
    return 1;
  }
  if (action === 'diagnose') {
    const report = Report.parse(await res.json());
    console.log(values.json ? JSON.stringify(report, null, 2) : reportText(report, values.en ? 'en' : 'ru'));
    return report.summary.result === 'fail' ? 1 : 0;
  }
  if (action === 'logs') {
    const tail = LogTail.parse(await res.json());
    if (values.json) console.log(JSON.stringify(tail, null, 2));
    else for (const l of tail.lines) console.log(l);
    if (tail.dropped) console.error(`(${tail.dropped} older lines left out to fit one tunnel frame; take the bundle for the whole day)`);
    return 0;
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `evva-diagnostics-${venueId}.zip`;
  const out = resolve(values.out ?? name);
  await pipeline(Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]), createWriteStream(out, { mode: 0o600 }));
  console.log(values.json ? JSON.stringify({ file: out }) : `bundle saved: ${out}`);
  return 0;
}
