/**
 * docs/install.ru.md followed as written, for every step that
 * can be checked here. The installer's behaviour is what electron-builder.yml
 * and installer.nsh configure (the installer itself needs Windows); every text
 * the guide quotes «…» is one the companion, its installer or Windows really
 * shows; and the headless path runs: the package `npm pack` makes holds what it
 * needs, and each `evva-companion` command of the guide, in its order, with
 * only the placeholders filled in, does what the guide says it does.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tooltipOf } from '../../../face/face.ts';
import type { Status } from '../../../protocol/local.ts';
import { strings } from '../../../face/strings.ts';
import { explain, FrontError, type FrontErrorCode } from '../../../main/core/front/errors.ts';
import { malformedCode, pairFailure } from '../../../main/core/tunnel/pair.ts';
import { tunnelProblem, type TunnelProblemCode } from '../../../main/core/tunnel/problems.ts';
import { freePort, ROOT, runBin, startBin, startScript, type Proc } from '../../helpers/proc.ts';

const guide = fs.readFileSync(path.join(ROOT, 'docs/install.ru.md'), 'utf8');
const procs: Proc[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGTERM', 5_000)));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = (p: string) => { const d = fs.mkdtempSync(path.join(os.tmpdir(), `evva-guide-${p}-`)); dirs.push(d); return d; };
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');


describe('docs/install.ru.md, followed', () => {
  it('says of the installer what electron-builder.yml and installer.nsh configure', () => {
    const yml = read('electron-builder.yml');
    const nsh = read('resources/installer.nsh');
    const setting = (key: string) => new RegExp(`^\\s+${key}:\\s*(\\S+)`, 'm').exec(yml)?.[1];
    const product = /^productName:\s*(.+)$/m.exec(yml)?.[1]?.trim();
    // The file the guide names is electron-builder's NSIS default: "${productName} Setup ${version}.exe".
    expect(guide).toContain(`\`${product} Setup <версия>.exe\``);
    expect(setting('perMachine')).toBe('true');
    expect(guide).toContain('для всех пользователей компьютера');
    expect(setting('allowToChangeInstallationDirectory')).toBe('true');
    expect(guide).toMatch(/Папку можно выбрать; по умолчанию это\s+`C:\\Program Files\\EVVA Companion`/);
    expect(setting('createStartMenuShortcut')).toBe('true');
    expect(setting('createDesktopShortcut')).toBe('false');
    expect(guide).toMatch(/Ярлык появляется в меню «Пуск»; на рабочий стол ярлык не ставится/);
    expect(setting('runAfterFinish')).toBe('true');
    expect(guide).toContain('В конце установщик предлагает сразу запустить EVVA Companion');
    expect(setting('language')).toBe('"1049"');
    expect(guide).toContain('Установщик на русском языке');
    expect(setting('deleteAppDataOnUninstall')).toBe('false');
    const question = /MessageBox[^"]*"([^"$]+)\$/.exec(nsh)?.[1];
    expect(question).toBeDefined();
    expect(guide).toContain(`«${question}»`);
    expect(nsh).toMatch(/\$\{ifNot\} \$\{isUpdated\}/);
    expect(guide).toContain('обновление ничего не спрашивает и ничего не удаляет');
    // Start at login for every user, to the tray: the installer's machine-wide Run value with --hidden.
    expect(nsh).toMatch(/WriteRegStr HKLM "\$\{EVVA_RUN_KEY\}" "\$\{APP_ID\}" '"\$INSTDIR\\\$\{APP_EXECUTABLE_FILENAME\}" --hidden'/);
    expect(read('main/desktop/login.ts')).toMatch(/HIDDEN_FLAG = '--hidden'/);
    expect(guide).toMatch(/автозапуск при входе в Windows для всех пользователей\*\*:\s+после перезагрузки компаньон запускается сам, сразу в трей, без окна/);
    // The machine's one data folder: made by the installer, the core's default on Windows.
    expect(nsh).toMatch(/SetShellVarContext all\s+CreateDirectory "\$APPDATA\\\$\{EVVA_DATA\}"/);
    expect(nsh).toMatch(/!define EVVA_DATA "EVVA Companion"/);
    expect(read('main/core/settings.ts')).toMatch(/win32'\) return path\.join\(env\.ProgramData \?\? env\.ALLUSERSPROFILE \?\? 'C:\\\\ProgramData', 'EVVA Companion'\)/);
    expect(guide).toContain('папку данных `C:\\ProgramData\\EVVA Companion`');
    // The first window, at «Настройка» while the companion is not paired.
    expect(read('main/desktop/main.ts')).toMatch(/last\.tunnel\.state === 'unpaired' && window\.get\(\)\?\.isVisible\(\)\) void window\.show\('\/setup'\)/);
    expect(guide).toMatch(/откроется окно компаньона, а пока он не привязан к заведению — на разделе\s+«Настройка»/);
  });

  it('runs the headless path as written: the package npm pack makes, then each evva-companion command in order', async () => {
    // The archive EVVA hands out: `npm pack` of this repository (dist/ is built by the test setup).
    const packDir = tmp('pack');
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir], { cwd: ROOT, stdio: 'ignore' });
    const tgz = fs.readdirSync(packDir).find((f) => f.endsWith('.tgz'))!;
    expect(tgz).toMatch(/^evva-companion-\d+\.\d+\.\d+\.tgz$/);
    expect(guide).toContain('`evva-companion-<версия>.tgz`');
    execFileSync('tar', ['-xzf', path.join(packDir, tgz), '-C', packDir]);
    const pkg = path.join(packDir, 'package');
    for (const f of ['bin/evva-companion.js', 'dist/renderer/index.html', 'docs/install.ru.md']) expect(fs.existsSync(path.join(pkg, f)), f).toBe(true);
    expect(fs.readdirSync(path.join(pkg, 'dist/cli')).some((f) => f.startsWith('companion'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'tests'))).toBe(false);
    // npm install would fetch the dependencies; here the repository's stand in for them.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');

    // Every evva-companion line of the guide's sh blocks, as written.
    const commands = [...guide.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n')).map((l) => l.trim()).filter((l) => l.startsWith('evva-companion '));
    expect(commands.map((c) => c.split(' ')[1])).toEqual(['discover', 'pair', 'status', 'settings', 'diagnose', 'login']);
    const dataDirAsWritten = '"C:\\ProgramData\\EVVA Companion"';
    for (const c of commands.slice(1)) expect(c).toContain(`--data-dir ${dataDirAsWritten}`);
    // The scheduled task runs the companion with the same data folder.
    expect(guide).toContain('run --data-dir `"C:\\ProgramData\\EVVA Companion`"');

    const simPort = await freePort();
    const sim = startBin('evva-sim.js', ['--port', String(simPort), '--no-auto', '--quiet']);
    procs.push(sim);
    await sim.waitFor(/listening on/);
    const relayDir = tmp('relay');
    const KEY = 'guide-test-api-key-0123456789abcdef';
    const relay = startBin('evva-relay.js', ['serve', '--port', '0', '--data-dir', relayDir, '--api-key', KEY]);
    procs.push(relay);
    const relayUrl = (await relay.waitFor(/"listening":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;
    const venue = JSON.parse((await runBin('evva-relay.js', ['venue', 'add', 'Ресторан по инструкции', '--json', '--data-dir', relayDir])).stdout) as { pairingCode: string };

    const dataDir = tmp('data');
    const apiPort = await freePort();
    // The placeholders of the guide filled in; ports that must be free on a shared machine via the environment.
    const fill = (c: string) => c.replace(dataDirAsWritten, `"${dataDir}"`).replace('КОД', venue.pairingCode).replace('https://адрес-сервера-EVVA', relayUrl);
    const env = { EVVA_FROM_SOURCE: '', EVVA_API_PORT: String(apiPort), EVVA_TEST_HOOKS: '1', EVVA_TEST_DISCOVERY_PORTS: String(simPort) };
    const bin = path.join(pkg, 'bin/evva-companion.js');
    const split = (c: string) => [...c.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1);
    const exec = async (c: string) => {
      const p = startScript(bin, split(fill(c)), env);
      procs.push(p);
      const code = await p.exited;
      return { code, out: p.output() };
    };

    const discovered = await exec(commands[0]!);
    expect(discovered.code).toBe(0);
    expect(discovered.out).toContain(`Найден плагин: http://127.0.0.1:${simPort}`);
    const paired = await exec(commands[1]!);
    expect(paired.code, paired.out).toBe(0);
    expect(paired.out).toMatch(/Готово: компаньон привязан к заведению «Ресторан по инструкции»/);

    // What the scheduled task starts. The plugin is on a test port, as the guide says to write it in settings.json.
    fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ frontUrl: `http://127.0.0.1:${simPort}` }));
    const run = startScript(bin, ['run', '--data-dir', dataDir], env);
    procs.push(run);
    await run.waitFor(/Компаньон запущен/);

    let status = { code: -1 as number | string, out: '' };
    for (let i = 0; i < 100 && !/всё в порядке/.test(status.out); i++) {
      status = await exec(commands[2]!);
      if (!/всё в порядке/.test(status.out)) await new Promise((r) => setTimeout(r, 300));
    }
    expect(status.out).toContain('всё в порядке');
    expect(status.out).toContain('iikoFront (плагин Front Web API): работает');
    expect(status.out).toContain('Связь с EVVA: подключено');
    expect(guide).toMatch(/В ответе `status` должно быть «всё в порядке», «iikoFront \(плагин Front Web API\): работает»\s+и «Связь с EVVA: подключено»/);

    const settings = await exec(commands[3]!);
    expect(settings.code).toBe(0);
    expect(settings.out).toContain('Настройки работающего компаньона');
    const diagnose = await exec(commands[4]!);
    expect([0, 1]).toContain(diagnose.code);
    expect(diagnose.out).toMatch(/Итог: /);
    const login = await exec(commands[5]!);
    expect(login.code).toBe(0);
    const link = /http:\/\/127\.0\.0\.1:(\d+)\/login\?once=\S+/.exec(login.out);
    expect(link?.[1]).toBe(String(apiPort));
    const opened = await fetch(link![0], { redirect: 'manual' });
    expect(opened.status).toBe(303);
    const cookie = (opened.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect(cookie).toMatch(/^evva_session=/);
    expect(guide).toMatch(/после входа браузер остаётся в\s+окне компаньона 30 дней, в том числе после перезагрузки/);
    const page = await fetch(`http://127.0.0.1:${apiPort}/api/status`, { headers: { cookie, 'sec-fetch-site': 'same-origin' } });
    expect(page.status).toBe(200);
    const ui = await fetch(`http://127.0.0.1:${apiPort}/`);
    expect(await ui.text()).toMatch(/<div id="root">/);
  }, 240_000);

  it('quotes only texts the companion, its installer or Windows really show', () => {
    // The CLI's text: the commands, the status text and the pair command.
    const CLI_FILES = ['main/core/cli.ts', 'main/core/summary.ts', 'main/core/pairing.ts'];
    const corpus: string[] = [read('resources/installer.nsh'), read('main/core/api/ui.ts'), read('main/core/diagnostics/catalogue.ts'), ...CLI_FILES.map(read)];
    const patterns: RegExp[] = [];
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // What the CLI prints: its template strings, with any value where a \${…} goes (the run above checks the real output).
    for (const [, tpl] of CLI_FILES.map(read).join('\n').matchAll(/`([^`\n]{8,})`/g)) {
      // Only templates with words of their own: `${a}\n${b}` would match anything.
      if ((tpl!.replace(/\$\{[^}]*\}/g, '').match(/\p{L}/gu) ?? []).length < 6) continue;
      patterns.push(new RegExp(`^${esc(tpl!.trim()).replace(/\\\$\\\{[^}]*\\\}/g, '.+?')}$`));
    }
    const walk = (v: unknown) => {
      if (typeof v === 'string') corpus.push(v);
      else if (typeof v === 'function') {
        // A sentence with values: matched with any value where its arguments go.
        const marks = ['⟦1⟧', '⟦2⟧', '⟦3⟧'];
        for (const args of [marks, [1, 2, 3], [5, 5, 5]]) {
          let out: unknown;
          try { out = (v as (...a: unknown[]) => unknown)(...args); } catch { continue; }
          if (typeof out === 'string') patterns.push(new RegExp(`^${esc(out).replace(/⟦\d⟧/g, '.+?').replace(/\d+/g, '\\d+')}$`));
        }
      } else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
    };
    walk(strings('ru'));
    const front: FrontErrorCode[] = ['unreachable', 'timeout', 'unlicensed', 'bad_response', 'http', 'auth', 'too_large', 'not_plugin', 'not_found'];
    const tunnel: TunnelProblemCode[] = ['relay_unreachable', 'token_refused', 'proxy_refused', 'proxy_unreachable', 'tls_error', 'insecure_url', 'bad_relay_url', 'replaced', 'protocol', 'relay_error', 'link_dead'];
    for (const p of [
      ...front.map((c) => explain(new FrontError(c), 'http://127.0.0.1:9042')),
      ...tunnel.map((c) => tunnelProblem(c, { relayUrl: 'https://relay.example', status: 407 })),
      ...[404, 410, 409, 429, 500].map((s) => pairFailure(s, null)), malformedCode('x'),
    ]) corpus.push(p.message, p.hint ?? '');
    // The tray's tooltips for the states the guide shows.
    const ok: Status = {
      level: 'ok', version: '0', startedAt: '', front: { state: 'up', url: 'http://127.0.0.1:9042', latencyMs: 8, checkedAt: null, since: null, source: 'discovery' },
      tunnel: { state: 'connected', since: null, rttMs: 12, reconnects: 0, venueId: 'v', relayUrl: null },
    };
    const feed = { state: 'running' as const, venueId: 'v', backlog: 0, inFlight: 0, oldestUnsentAt: null, lastEvent: null, acked: 0, ackedToday: 0, coalesced: 0, pollers: [] };
    for (const s of [
      ok, { ...ok, feed, payments: { total: 1, byState: { notified: 1 }, alarms: 0, pendingClose: 0 } }, { ...ok, tunnel: { ...ok.tunnel, state: 'connecting' as const } },
      { ...ok, front: { ...ok.front, state: 'down' as const } }, { ...ok, tunnel: { ...ok.tunnel, state: 'unpaired' as const, venueId: null } },
    ]) corpus.push(tooltipOf(s, 'ru'));
    // Windows' own words.
    const windows = ['Да', 'Нет', 'Пуск', 'Параметры Windows → Приложения', 'Установка и удаление программ',
      // SmartScreen on an unsigned installer (docs/desktop.md, "Packaging": no code signing yet).
      'Windows защитила ваш компьютер', 'Подробнее', 'Выполнить в любом случае'];
    // The sections' names as Russian declines them in a sentence («в „Настройках“»).
    const declined: Record<string, string> = { Настройках: 'Настройки', Настройке: 'Настройка', Диагностике: 'Диагностика' };
    // Ports and counts differ between the guide's example and this machine.
    const digits = (t: string) => t.replace(/\d+/g, '#');
    const texts = corpus.map(digits);

    const quotes = [...guide.matchAll(/«([^«»]+)»/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
    expect(quotes.length).toBeGreaterThan(40);
    const unknown = quotes.filter((q) => {
      const text = digits(declined[q] ?? q).replace(/\s*…$/, '');
      return !windows.includes(q) && !texts.some((c) => c.includes(text)) && !patterns.some((p) => p.test(q));
    });
    expect(unknown).toEqual([]);
    // Nothing the sysadmin does not have: no repository docs, no links to them.
    expect(guide).not.toMatch(/docs\/|settings\.md|\]\(/);
  });
});
