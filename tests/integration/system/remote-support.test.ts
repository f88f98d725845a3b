/**
 * Remote support through the real relay and tunnel: EVVA support runs the
 * checks, reads the log tail and takes the bundle; the venue can switch it
 * off, and sees every action in its audit log. Secrets planted in the
 * settings and the log never come out of any of it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { get as httpGet } from 'node:http';
import path from 'node:path';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditList, BUNDLE_CHUNK_BYTES, LogTail, Report } from '../../../protocol/diagnostics.ts';
import { API_KEY, waitFor } from '../../helpers/relay.ts';
import { unzip } from '../../helpers/zip.ts';
import { startVenue, type Venue } from '../../helpers/venue.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PROXY_PASSWORD = 'Pr0xyPassw0rdZ';
const PAIRING_CODE = 'K7QF-2MXD';
const PHONE = '+7 (912) 345-12-34';

/** A venue whose settings hold a proxy password and whose log holds a pairing code, the device token and a phone. */
async function plantedVenue(settings: Record<string, unknown> = {}): Promise<Venue> {
  const v = await startVenue(cleanups, { settings: { proxy: `http://evva:${PROXY_PASSWORD}@127.0.0.1:3128`, ...settings } });
  v.log.info(`pairing with code ${PAIRING_CODE} as typed by the sysadmin`);
  v.log.warn('device token in a careless line', { note: `token is ${v.deviceToken}` });
  v.log.info(`guest phone ${PHONE} on a delivery`);
  v.log.info('proxy in use', { url: `http://evva:${PROXY_PASSWORD}@127.0.0.1:3128` });
  // What a plugin's answer or a typed command can carry into a log line: JSON secrets, in the message and in a field,
  // a pairing code typed in lower case, and phones written without +7 or without any prefix.
  v.log.warn(`plugin answered 400 to ${PLUGIN_JSON}`, { body: PLUGIN_JSON });
  v.log.info(`pairing again with ${PAIRING_CODE.toLowerCase()}`);
  v.log.info(`courier phone ${PHONE_SPACED}, guest phone ${PHONE_BARE}`);
  return v;
}

const PLUGIN_JSON = JSON.stringify({ login: 'admin', password: 'PlainPassw0rdQ', token: 'JsonT0kenQ', pin: 731952, sessionKey: 'Sess10nKeyQ' });
const PHONE_SPACED = '7 912 345 67 82';
const PHONE_BARE = '9123456784';

function secretsIn(text: string, v: Venue): string[] {
  const secret = v.deviceToken.slice(4); // the part after evd_
  return [PROXY_PASSWORD, PAIRING_CODE, PAIRING_CODE.toLowerCase(), secret, '345-12-34', 'PlainPassw0rdQ', 'JsonT0kenQ', '731952', 'Sess10nKeyQ',
    '345 67 82', PHONE_BARE].filter((s) => text.includes(s));
}

let marks = 0;
/**
 * Waits until every line logged so far is in the log files on disk: the file transport writes asynchronously and in
 * order, so a line logged last and found on disk means the ones before it are there too. (A fixed 300-500 ms sleep
 * stood here; on a loaded machine 1 500 lines may take longer than that to reach the disk.)
 */
async function logsOnDisk(v: Venue): Promise<void> {
  const mark = `log on disk up to mark ${++marks}.`;
  v.log.info(mark);
  const dir = path.join(v.dataDir, 'logs');
  const has = () => fs.existsSync(dir) && fs.readdirSync(dir).some((f) => fs.readFileSync(path.join(dir, f), 'utf8').includes(mark));
  await waitFor(has, `the line "${mark}" in ${dir}`, 20_000, 50);
}

async function support(v: Venue, what: string, init: { method?: string } = {}) {
  const res = await fetch(`${v.relay.url}/v1/venues/${v.venueId}/${what}`, { method: init.method ?? 'GET', headers: { authorization: `Bearer ${API_KEY}` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') ?? '' };
}

/** GETs the URL, waits for the first body bytes, then destroys the connection (a caller who gave up). */
function firstBytesThenHangUp(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers: { authorization: `Bearer ${API_KEY}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`bundle answered ${res.statusCode}`));
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => undefined);
  });
}

async function audit(v: Venue) {
  const r = await v.local('/api/audit');
  return AuditList.parse(JSON.parse(r.body.toString('utf8'))).entries;
}

describe('remote support through the relay', () => {
  it('runs the checks live and returns the same report shape, and the venue sees it in its audit log', async () => {
    const v = await plantedVenue();
    const r = await support(v, 'diagnostics', { method: 'POST' });
    expect(r.status).toBe(200);
    const report = Report.parse(JSON.parse(r.body.toString('utf8')));
    expect(report.checks.map((c) => c.id)).toContain('plugin');
    expect(report.summary.venueId).toBe(v.venueId);
    const entries = await audit(v);
    expect(entries[0]).toMatchObject({ action: 'diagnostics.run', outcome: 'done' });
    expect(entries[0]!.by.key).toMatch(/^[0-9a-f]{12}$/);
    expect(JSON.stringify(entries)).not.toContain(API_KEY);
  });

  it('returns the newest log lines, redacted: no proxy password, pairing code, device token or whole phone', async () => {
    const v = await plantedVenue();
    await logsOnDisk(v);
    const r = await support(v, 'logs?lines=200');
    expect(r.status).toBe(200);
    const tail = LogTail.parse(JSON.parse(r.body.toString('utf8')));
    const text = tail.lines.join('\n');
    expect(text).toContain('pairing with code');
    expect(text).toContain('+7 *** ***-12-34');
    expect(text).toContain('courier phone +7 *** ***-67-82, guest phone +7 *** ***-67-84');
    expect(text).toContain('pairing again with [скрыто]');
    expect(text).toContain('admin');
    expect(secretsIn(text, v)).toEqual([]);
    // ...and the log files on disk never held them either.
    const onDisk = fs.readdirSync(path.join(v.dataDir, 'logs')).map((f) => fs.readFileSync(path.join(v.dataDir, 'logs', f), 'utf8')).join('\n');
    expect(onDisk).toContain('pairing with code');
    expect(secretsIn(onDisk, v)).toEqual([]);
    expect((await audit(v))[0]).toMatchObject({ action: 'logs.tail', outcome: 'done' });
    expect((await support(v, 'logs?lines=0')).status).toBe(400);
  });

  it('cuts a long tail to one control frame and says how many older lines it left out', async () => {
    const v = await plantedVenue();
    for (let i = 0; i < 1500; i++) v.log.info(`line ${i} ${'x'.repeat(80)}`);
    await logsOnDisk(v);
    const r = await support(v, 'logs?lines=2000');
    expect(r.status).toBe(200);
    const tail = LogTail.parse(JSON.parse(r.body.toString('utf8')));
    expect(tail.dropped).toBeGreaterThan(0);
    // Other parts (the feed's pollers) log too: look at our lines, newest last, the oldest cut.
    const ours = tail.lines.filter((l) => /line \d+ x/.test(l));
    expect(ours.at(-1)).toContain('line 1499');
    expect(ours[0]).not.toMatch(/line 0 x/);
  });

  it('streams the bundle zip through the tunnel, with every file free of the planted secrets', async () => {
    const v = await plantedVenue();
    // Enough hard-to-compress lines that the zip takes several bundle.read chunks.
    // Distinct messages: the log limits repeats of one message.
    for (let i = 0; i < 1500; i++) v.log.debug(`noise ${i}`, { blob: randomBytes(60).toString('base64url') });
    await logsOnDisk(v);
    const r = await support(v, 'bundle');
    expect(r.status).toBe(200);
    expect(r.body.length).toBeGreaterThan(2 * BUNDLE_CHUNK_BYTES);
    expect(r.type).toBe('application/zip');
    const files = await unzip(r.body);
    expect([...files.keys()]).toEqual(expect.arrayContaining(['report.json', 'report.txt', 'settings.json', 'metrics.txt', 'system.json', 'status.json']));
    const logs = [...files].filter(([f]) => f.startsWith('logs/companion-')).map(([, t]) => t).join('\n');
    // The planted lines are in the bundle, with the secrets masked (not simply missing).
    expect(logs).toContain('pairing with code [скрыто]');
    expect(logs).toContain('+7 *** ***-12-34');
    expect(files.get('report.txt')).toMatch(/Плагин iikoFront Web API/);
    expect(Report.parse(JSON.parse(files.get('report.json')!)).summary.companion).toBeTruthy();
    expect(files.get('metrics.txt')).toMatch(/evva_front_up/);
    expect(JSON.parse(files.get('settings.json')!).proxy).toBe('http://evva:[скрыто]@127.0.0.1:3128');
    for (const [name, text] of files) expect({ name, leaked: secretsIn(text, v) }).toEqual({ name, leaked: [] });
    expect((await audit(v)).map((e) => e.action)).toContain('bundle.open');
  });

  it('frees the bundle slots of downloads abandoned after their first bytes, so the next one starts at once', async () => {
    const v = await plantedVenue();
    for (let i = 0; i < 1500; i++) v.log.debug(`noise ${i}`, { blob: randomBytes(60).toString('base64url') });
    await logsOnDisk(v);
    // Two callers (the companion holds at most two bundles at once) read the first bytes and hang up.
    for (let n = 0; n < 2; n++) await firstBytesThenHangUp(`${v.relay.url}/v1/venues/${v.venueId}/bundle`);
    // The companion used to hold both for its idle minute ("another bundle is being taken"); now the relay tells it at once.
    const started = Date.now();
    let r = await support(v, 'bundle');
    while (r.status !== 200 && Date.now() - started < 15_000) {
      await new Promise((ok) => setTimeout(ok, 200));
      r = await support(v, 'bundle');
    }
    expect(r.status).toBe(200);
    expect((await unzip(r.body)).has('report.json')).toBe(true);
  });

  it('refuses all three with 403 remote_support_disabled when the venue switched it off, and audits the refusals', async () => {
    const v = await plantedVenue({ allowRemoteDiagnostics: false });
    for (const [what, method] of [['diagnostics', 'POST'], ['logs?lines=10', 'GET'], ['bundle', 'GET']] as const) {
      const r = await support(v, what, { method });
      expect({ what, status: r.status, body: JSON.parse(r.body.toString('utf8')).error }).toEqual({ what, status: 403, body: 'remote_support_disabled' });
    }
    const entries = await audit(v);
    expect(entries.map((e) => `${e.action}:${e.outcome}`)).toEqual(['bundle.open:refused', 'logs.tail:refused', 'diagnostics.run:refused']);
    const m = (await v.local('/metrics')).body.toString('utf8');
    expect(m).toMatch(/^evva_remote_support_actions\{action="logs\.tail",outcome="refused"\} 1$/m);
  });

  it('takes the switch from settings.json without a restart', async () => {
    const v = await plantedVenue();
    expect((await support(v, 'diagnostics', { method: 'POST' })).status).toBe(200);
    const file = path.join(v.dataDir, 'settings.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), allowRemoteDiagnostics: false }));
    expect((await support(v, 'diagnostics', { method: 'POST' })).status).toBe(403);
  });

  it('the switch in Настройки (PUT /api/settings) is the one remote support obeys, both ways', async () => {
    const v = await plantedVenue();
    const put = async (on: boolean) => {
      const res = await fetch(`${v.agent.api.url}/api/settings`, {
        method: 'PUT', headers: { authorization: `Bearer ${v.agent.api.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ allowRemoteDiagnostics: on }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { values: { allowRemoteDiagnostics: boolean } }).values.allowRemoteDiagnostics;
    };
    expect(JSON.parse((await v.local('/api/settings')).body.toString('utf8')).values.allowRemoteDiagnostics).toBe(true);
    expect((await support(v, 'logs?lines=5')).status).toBe(200);
    expect(await put(false)).toBe(false);
    expect((await support(v, 'logs?lines=5')).status).toBe(403);
    expect(await put(true)).toBe(true);
    expect((await support(v, 'logs?lines=5')).status).toBe(200);
  });

  it('answers 503 for a venue whose tunnel is down and 404 for an unknown venue', async () => {
    const v = await plantedVenue();
    await v.agent.stop();
    expect((await support(v, 'diagnostics', { method: 'POST' })).status).toBe(503);
    const res = await fetch(`${v.relay.url}/v1/venues/ven_nosuchvenue0/logs?lines=5`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(404);
  });
});

describe('the bundle on the local API', () => {
  it('is a zip with the report in Russian and no planted secret', async () => {
    const v = await plantedVenue();
    await logsOnDisk(v);
    const r = await v.local('/api/diagnostics/bundle');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toMatch(/evva-diagnostics-.*\.zip/);
    const files = await unzip(r.body);
    expect(files.get('report.txt')).toMatch(/Итог:/);
    for (const [name, text] of files) expect({ name, leaked: secretsIn(text, v) }).toEqual({ name, leaked: [] });
  });
});
