import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startSim, type Sim } from '../../../sim/index.ts';
import { CANDIDATE_PORTS, discover, identify, judge } from '../../../main/core/front/discovery.ts';
import { freePort } from '../../helpers/proc.ts';

let sim: Sim | null = null;
let other: http.Server | null = null;
afterEach(async () => {
  await sim?.close();
  await new Promise((r) => (other ? other.close(r) : r(null)));
  sim = null;
  other = null;
});

/** Some other web program: a page on /, 404 on the plugin's API. */
async function impostor(): Promise<number> {
  other = http.createServer((req, res) => {
    if (req.url === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<h1>Some admin panel</h1>'); return; }
    res.writeHead(404); res.end();
  });
  await new Promise<void>((r) => other!.listen(0, '127.0.0.1', r));
  return (other.address() as AddressInfo).port;
}

describe('plugin discovery', () => {
  it('finds the plugin on a non-default port, with its version', async () => {
    sim = await startSim({ port: 0, auto: false, version: '7.4.6012.0' });
    const closed = await freePort();
    const r = await discover({ ports: [closed, sim.port] });
    expect(r.found).toEqual({ url: sim.url, version: '7.4.6012.0' });
    expect(r.tried.map((t) => t.kind)).toEqual(['unreachable', 'plugin']);
  });

  it('does not count an open port that is not the plugin', async () => {
    const port = await impostor();
    const who = await identify(`http://127.0.0.1:${port}`);
    expect(who.kind).toBe('not_plugin');
    const r = await discover({ ports: [port] });
    expect(r.found).toBeNull();
    expect(r.error?.code).toBe('not_plugin');
    expect(r.errorUrl).toBe(`http://127.0.0.1:${port}`);
  });

  it('prefers the plugin even when another program holds the default port', async () => {
    const port = await impostor();
    sim = await startSim({ port: 0, auto: false });
    const r = await discover({ ports: [port, sim.port] });
    expect(r.found?.url).toBe(sim.url);
  });

  it('says nothing was found when no port answers', async () => {
    const r = await discover({ ports: [await freePort(), await freePort()] });
    expect(r.found).toBeNull();
    expect(r.error?.code).toBe('not_found');
  });

  it('recognises a plugin whose API refuses a call without a key with another code than 401', async () => {
    // No public source shows the exact refusal: 403 with an ASP.NET message, a 500 that names the key, a 400 JSON.
    for (const [status, body] of [[403, '{"Message":"Authorization has been denied for this request."}'], [500, 'key is required'], [400, '{"Message":"Bad"}']] as const) {
      other = http.createServer((req, res) => {
        if (req.url === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html><body>iikoFront Web API</body></html>'); return; }
        res.writeHead(status, { 'content-type': body.startsWith('{') ? 'application/json' : 'text/plain' }); res.end(body);
      });
      await new Promise<void>((r) => other!.listen(0, '127.0.0.1', r));
      const port = (other.address() as AddressInfo).port;
      expect((await identify(`http://127.0.0.1:${port}`)).kind, `${status} ${body}`).toBe('plugin');
      await new Promise((r) => other!.close(r));
      other = null;
    }
  });

  it('tries 8102, the port a public partner checklist gives the plugin, right after 9042', () => {
    expect(CANDIDATE_PORTS.slice(0, 2)).toEqual([9042, 8102]);
  });

  it('judges by the root page and the API together, never one status code', () => {
    const seen = { rootStatus: 200, pluginPage: false, apiStatus: 401, apiText: '', apiType: '' };
    expect(judge(seen).plugin).toBe(true);
    expect(judge({ ...seen, apiStatus: 403 }).plugin).toBe(true);
    expect(judge({ ...seen, apiStatus: 200, apiText: '[]', apiType: 'application/json' }).plugin).toBe(true);
    // An ordinary web program: no API, or a page for every path.
    expect(judge({ ...seen, apiStatus: 404 }).plugin).toBe(false);
    expect(judge({ ...seen, apiStatus: 200, apiText: '<html>', apiType: 'text/html' }).plugin).toBe(false);
    expect(judge({ ...seen, pluginPage: true, apiStatus: 200, apiText: '<html>', apiType: 'text/html' }).plugin).toBe(false);
    expect(judge({ ...seen, rootStatus: 500, apiStatus: 500, apiText: 'oops', apiType: 'text/plain' }).plugin).toBe(false);
    // The plugin's own page with an API that errs in its own way.
    expect(judge({ ...seen, rootStatus: 200, pluginPage: true, apiStatus: 400, apiText: 'x', apiType: 'text/plain' }).plugin).toBe(true);
  });

  it('does not use a licence slot to identify the plugin', async () => {
    sim = await startSim({ port: 0, auto: false });
    await identify(sim.url);
    expect(sim.logins()).toBe(0);
  });
});
