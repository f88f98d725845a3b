/**
 * `evva-sim`: runs the simulated iiko Front Web API plugin until SIGINT/SIGTERM.
 * Exit codes: 0 after a clean stop (or help/version), 1 when it cannot listen (port in use), 2 for a bad flag.
 */
import { parseArgs } from 'node:util';
import { VERSION } from '../common/version.ts';
import { DEFAULT_LICENCE_SLOTS, DEFAULT_TOKEN_TTL_MS, DEFAULT_VERSION, startSim } from './index.ts';
import type { SimOptions } from './index.ts';

const USAGE = `evva-sim: a simulated iiko Front Web API plugin (iikoFront, port 9042) for tests and the demo.
Симулятор плагина iiko Front Web API для тестов и демонстрации.

Usage: evva-sim [options]
       evva-sim help | --help | --version
  --port N            main port (default 9042; 0 = any free port, printed at start)
  --host H            address to listen on (default 127.0.0.1; keep it on loopback: the control API rides on it)
  --seed N            world seed (default 1): the same seed gives the same restaurant
  --speed X           restaurant time multiplier (default 1; 60 = a minute per second)
  --no-auto           no automatic activity: the world changes only through /_sim/
  --plugin-version V  plugin version to show (default ${DEFAULT_VERSION})
  --token-ttl-sec N   token lifetime in seconds, absolute from login (default ${DEFAULT_TOKEN_TTL_MS / 1000})
  --licence-slots N   tokens that may be live at once (default ${DEFAULT_LICENCE_SLOTS})
  --control-port N    a second listener for /_sim/ only, which stays up while the main port is stopped
  --no-payment-codes  payment types without Code (only Name identifies EVVA)
  --quiet             do not log requests and events
  --help, help        this text
  --version           the simulator's own version (of this package)

Control API: http://<host>:<port>/_sim/state and the routes in docs/sim.md. Never expose it.`;

class UsageError extends Error {}

function int(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${raw}'. / --${name}: нужно целое число от ${min} до ${max}.`);
  }
  return Number(raw);
}

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${name} must be a number above 0, got '${raw}'. / --${name}: нужно число больше 0.`);
  }
  return n;
}

function options(argv: string[]): { opts: SimOptions; quiet: boolean } | 'help' | 'version' {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        seed: { type: 'string' },
        speed: { type: 'string' },
        'no-auto': { type: 'boolean' },
        'plugin-version': { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        'token-ttl-sec': { type: 'string' },
        'licence-slots': { type: 'string' },
        'control-port': { type: 'string' },
        'no-payment-codes': { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message} / Неизвестный или неверный параметр. Run evva-sim --help.`);
  }
  if (values.help || (positionals.length === 1 && positionals[0] === 'help')) return 'help';
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals.join(' ')}' (the plugin version is --plugin-version V). / Лишний аргумент.`);
  if (values.version) return 'version';
  const pluginVersion = values['plugin-version'];
  if (pluginVersion !== undefined && pluginVersion.trim() === '') throw new UsageError('--plugin-version must not be empty.');
  if (values.host !== undefined && values.host.trim() === '') throw new UsageError('--host must not be empty.');
  const ttlSec = positive('token-ttl-sec', values['token-ttl-sec']);
  const opts: SimOptions = {
    port: int('port', values.port, 0, 65535) ?? 9042,
    host: values.host ?? '127.0.0.1',
    seed: int('seed', values.seed, -2147483648, 4294967295) ?? 1,
    speed: positive('speed', values.speed) ?? 1,
    auto: !values['no-auto'],
    ...(pluginVersion !== undefined ? { version: pluginVersion } : {}),
    ...(ttlSec !== undefined ? { tokenTtlMs: Math.round(ttlSec * 1000) } : {}),
    ...(values['licence-slots'] !== undefined ? { licenceSlots: int('licence-slots', values['licence-slots'], 0, 1000) } : {}),
    ...(values['control-port'] !== undefined ? { controlPort: int('control-port', values['control-port'], 0, 65535) } : {}),
    paymentCodes: !values['no-payment-codes'],
  };
  return { opts, quiet: values.quiet ?? false };
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = options(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`evva-sim: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  if (parsed === 'help') {
    console.log(USAGE);
    return;
  }
  if (parsed === 'version') {
    console.log(VERSION);
    return;
  }
  const { opts, quiet } = parsed;
  const stamp = () => new Date().toISOString().slice(11, 23);
  let sim;
  try {
    sim = await startSim({ ...opts, log: quiet ? () => {} : (line) => console.log(`${stamp()} ${line}`) });
  } catch (e) {
    console.error(`evva-sim: cannot start: ${(e as Error).message}`);
    console.error('evva-sim: не удалось запустить симулятор: порт занят или адрес недоступен. Choose another --port.');
    process.exit(1);
  }
  const state = sim.state();
  console.log(`evva-sim: iikoFront Web API ${state.version} listening on ${sim.url} (seed ${opts.seed}, speed ${state.speed}, auto ${state.auto ? 'on' : 'off'})`);
  console.log(`evva-sim: control API on ${sim.controlUrl}/_sim/ (dev/test only, never expose it)`);
  if (!['127.0.0.1', '::1', 'localhost'].includes(opts.host ?? '127.0.0.1')) {
    console.warn(`evva-sim: WARNING: listening on ${opts.host}, not loopback: anyone who can reach it can drive /_sim/ (change orders, stop the port). / ВНИМАНИЕ: API управления доступен из сети.`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`evva-sim: ${signal}, stopping`);
    void sim.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** Runs this process's command line (bin/evva-sim.js calls it). */
export const runCommandLine = main;
