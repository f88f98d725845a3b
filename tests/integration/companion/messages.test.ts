/**
 * Texts a person reads are Russian and come from the catalogue: command-line parsing errors, validation issues, what discovery
 * says about a port that is not the plugin.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { identify } from '../../../main/core/front/discovery.ts';
import { explain, FrontError, type FrontErrorCode } from '../../../main/core/front/errors.ts';
import { tunnelProblem, type TunnelProblemCode } from '../../../main/core/tunnel/problems.ts';
import { malformedCode, pairFailure } from '../../../main/core/tunnel/pair.ts';
import { issueText, parseErrorText } from '../../../main/core/messages.ts';

/** English words the libraries write; none may reach a person. */
const ENGLISH = /\b(Unknown|option|argument|missing|Invalid|expected|Expected|Too|must|received|answered|without|root page)\b/;

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => { for (const c of closers.splice(0)) await c(); });

describe('the message catalogue', () => {
  it('turns every parseArgs error into Russian naming the flag', () => {
    const options = { port: { type: 'string' }, json: { type: 'boolean' } } as const;
    const cases = [['--nope'], ['--port'], ['--json=yes'], ['stray']];
    for (const args of cases) {
      let english = '';
      try {
        parseArgs({ args, options, strict: true, allowPositionals: false });
      } catch (e) {
        english = (e as Error).message;
      }
      expect(english, args.join(' ')).not.toBe('');
      const ru = parseErrorText(english);
      expect(ru, english).toMatch(/[а-яё]{4,}/i);
      expect(ru, english).not.toMatch(ENGLISH);
      if (args[0]!.startsWith('--')) expect(ru).toContain(args[0]!.split('=')[0]);
    }
  });

  it('translates the validation issues zod raises for settings-like values', () => {
    const schema = z.strictObject({
      port: z.number().int().min(0).max(65535), url: z.string().url(), level: z.enum(['a', 'b']), list: z.array(z.string()).max(1),
      name: z.string().min(2), flag: z.boolean(), step: z.number().multipleOf(5),
    });
    const r = schema.safeParse({ port: 70000.5, url: 'x', level: 'c', list: ['1', '2'], name: 'a', flag: 'yes', step: 7, extra: 1 });
    expect(r.success).toBe(false);
    if (r.success) return;
    expect(r.error.issues.length).toBeGreaterThanOrEqual(8);
    for (const i of r.error.issues) {
      const ru = issueText(i);
      expect(ru, i.message).toMatch(/[а-яё]{3,}/i);
      expect(ru, i.message).not.toMatch(ENGLISH);
    }
  });

  it('says in Russian why a port is not the plugin', async () => {
    const server = createServer((req, res) => { res.statusCode = req.url === '/' ? 404 : 200; res.end('nginx'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const other = createServer((_req, res) => { res.statusCode = 200; res.end('hello'); });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => other.close(r)));
    for (const s of [server, other]) {
      const id = await identify(`http://127.0.0.1:${(s.address() as { port: number }).port}`);
      expect(id.kind).toBe('not_plugin');
      if (id.kind !== 'not_plugin') continue;
      expect(id.why).toMatch(/ответил|получил/);
      expect(id.why).not.toMatch(ENGLISH);
    }
  });

  it('no hint the window shows names a command, a flag, a variable or a settings key: those go to `command`, for the CLI', () => {
    const front: FrontErrorCode[] = ['unreachable', 'timeout', 'unlicensed', 'bad_response', 'http', 'auth', 'too_large', 'not_plugin', 'not_found'];
    const tunnel: TunnelProblemCode[] = ['relay_unreachable', 'token_refused', 'proxy_refused', 'proxy_unreachable', 'tls_error',
      'insecure_url', 'bad_relay_url', 'replaced', 'protocol', 'relay_error', 'link_dead'];
    const problems = [
      ...front.map((c) => explain(new FrontError(c, 'x', { status: 500 }), 'http://127.0.0.1:9042')),
      ...tunnel.map((c) => tunnelProblem(c, { relayUrl: 'https://relay.example', proxy: 'http://proxy:3128', status: 407 })),
      ...[404, 410, 409, 429, 500].map((st) => pairFailure(st, null)),
      malformedCode('abc'),
    ];
    const CLI = /evva-companion|--[a-z]|\bEVVA_[A-Z_]+|HTTPS?_PROXY|NO_PROXY|settings\.json|\b[a-z]+[A-Z][A-Za-z]+\b/;
    for (const p of problems) {
      const prose = `${p.message} ${p.hint ?? ''}`.replace(/iikoAPIFront|iikoFront|iikoOffice|WebFront/g, '');
      expect(prose, p.code).not.toMatch(CLI);
      expect(p.messageEn ?? '', p.code).not.toMatch(/evva-companion|[а-яё]/i);
    }
    // The command line still gets its command.
    expect(tunnelProblem('token_refused').command).toMatch(/evva-companion pair/);
    expect(pairFailure(410, null).command).toMatch(/evva-companion pair КОД --relay-url/);
  });

  it('says a flag whose value is missing needs one, even when the next word starts with a dash', () => {
    expect(parseErrorText("Option '--front-url' argument is ambiguous.\nDid you forget to specify the option argument for '--front-url'?"))
      .toBe('Параметру --front-url нужно значение (значение, которое начинается с «-», пишется так: --front-url=-…).');
  });

  it('every plugin and tunnel problem a person reads is Russian, message and hint', () => {
    const front: FrontErrorCode[] = ['unreachable', 'timeout', 'unlicensed', 'bad_response', 'http', 'auth', 'not_plugin', 'not_found'];
    const tunnel: TunnelProblemCode[] = ['relay_unreachable', 'token_refused', 'proxy_refused', 'proxy_unreachable', 'tls_error',
      'insecure_url', 'bad_relay_url', 'replaced', 'protocol', 'relay_error', 'link_dead'];
    const problems = [
      ...front.map((c) => explain(new FrontError(c, 'ответ не JSON', { status: 500 }), 'http://127.0.0.1:9042')),
      ...tunnel.map((c) => tunnelProblem(c, { relayUrl: 'https://relay.example', proxy: 'http://proxy:3128', status: 407, detail: 'ECONNRESET socket hang up' })),
    ];
    for (const p of problems) {
      for (const text of [p.message, p.hint ?? '']) {
        // Technical detail goes to messageEn; the Russian text names only commands, URLs and products.
        const prose = text.replace(/https?:\/\/\S+|evva-companion \S+( \S+)?|--[a-z-]+|\b[A-Z_]{4,}\b|iikoFront|Front Web API|iikoAPIFront Web|WebFront API|EVVA|localhost|wss?:\/\/|https?:\/\//g, '');
        expect(prose, `${p.code}: ${text}`).not.toMatch(ENGLISH);
        expect(prose, `${p.code}: ${text}`).not.toMatch(/ECONNRESET|socket hang up/);
      }
      expect(p.message, p.code).toMatch(/[а-яё]{4,}/i);
    }
  });
});
