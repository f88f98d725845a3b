/**
 * The diagnostics bundle: one zip (yazl, streamed) that gives support
 * everything at once, like `cloudflared tunnel diag` or `tailscale bugreport`:
 * report.json, report.txt (Russian, for a person), the last 24 h of logs,
 * the settings, a metrics snapshot and system information. Every file goes
 * through the log redaction before it is added.
 */
import os from 'node:os';
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type Yazl from 'yazl';
import type { Report } from '../../../protocol/diagnostics.ts';
import { redact, redactText } from '../../../common/redact.ts';
import { recentLines } from './logs.ts';
import { reportText } from '../../../face/report.ts';

/** How far back the bundle's logs go. */
export const BUNDLE_LOG_WINDOW_MS = 24 * 3_600_000;

export interface BundleInput {
  report: Report;
  /** The effective settings; secrets are redacted here. */
  settings: object;
  /** The Prometheus text of the local API's /metrics. */
  metrics: string;
  /** The live status (/api/status) at bundle time. */
  status: object;
  dataDir: string;
  now: number;
}

/** Starts the zip; the returned stream yields its bytes as they are compressed. */
export function buildBundle(b: BundleInput): { name: string; stream: Readable } {
  // Loaded when a bundle is made, not at start: most companions never make one.
  const yazl = createRequire(import.meta.url)('yazl') as typeof Yazl;
  const zip = new yazl.ZipFile();
  const mtime = new Date(b.now);
  const add = (name: string, text: string) => zip.addBuffer(Buffer.from(text, 'utf8'), name, { mtime, mode: 0o100644 });
  // Fields by name first, then the whole text again: nothing deeper than redact() walks can slip through.
  const json = (v: unknown) => `${redactText(JSON.stringify(redact(v), null, 2))}\n`;
  add('report.json', json(b.report));
  add('report.txt', redactText(reportText(b.report)));
  add('settings.json', json(b.settings));
  add('status.json', json(b.status));
  add('metrics.txt', redactText(b.metrics));
  add('system.json', json({
    os: { type: os.type(), release: os.release(), arch: os.arch(), platform: process.platform, uptimeSec: Math.round(os.uptime()) },
    node: process.version, versions: process.versions, memory: process.memoryUsage(), cpus: os.cpus().length,
    totalMemMb: Math.round(os.totalmem() / 1048576), freeMemMb: Math.round(os.freemem() / 1048576), at: mtime.toISOString(),
  }));
  for (const [file, lines] of recentLines(b.dataDir, b.now - BUNDLE_LOG_WINDOW_MS)) add(`logs/${file}`, `${lines.join('\n')}\n`);
  zip.end();
  const stamp = mtime.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return { name: `evva-diagnostics-${stamp}.zip`, stream: zip.outputStream as Readable };
}
