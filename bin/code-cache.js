// A V8 code cache for the compiled bins (dist/cli/*.cjs). Node 20 compiles every module from its source at each
// start (its compile cache, `module.enableCompileCache`, is Node 22's), and a bin's start compiles 1-3 MB of bundles.
// Here those CommonJS bundles compile through `vm.Script` with the code V8 serialized at an earlier start, once that
// start had run a second (so it holds the functions the start compiled lazily too); docs/testing.md, "A bin's start".
//
// A code cache is code, so: it is read only from a directory the running user owns and nobody else may write
// (created 0700; checked, not assumed), from regular files owned by that user and writable by nobody else. A file is
// named by a hash of the bundle's source, the V8 flags it was compiled under and Node's command-line flags, in a
// folder per Node version: a changed bundle never meets an old cache (V8 itself compares only the source's length).
// A cache V8 refuses is not an error: the bundle compiles from source and a new cache replaces it. Writes go to a
// temporary file renamed into place, so concurrent starts never read half a file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

/** How long after a bundle without a cache is loaded its cache is made: the start has compiled what it runs by then. */
const SAVE_AFTER_MS = 1000;
/** How many cache files the folder keeps; past it, the least recently written go (each build brings new names). */
const KEEP_FILES = 256;

/** The per-user cache folder for this Node: under `$XDG_CACHE_HOME` (or `~/.cache`), `%LOCALAPPDATA%`, `~/Library/Caches`. */
export function cacheDir(env = process.env, platform = process.platform) {
  const base = platform === 'win32' ? env.LOCALAPPDATA || path.join(os.homedir(), 'AppData', 'Local')
    : platform === 'darwin' ? path.join(os.homedir(), 'Library', 'Caches')
      : env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'evva-companion', `code-${process.version}-${process.arch}`);
}

/** True when `st` is this user's and nobody else may write it (on Windows, the user profile's ACLs see to that). */
function onlyMine(st) {
  return process.platform === 'win32' || (st.uid === process.getuid() && (st.mode & 0o022) === 0);
}

/** Creates `dir` (0700) when missing; returns it when it is this user's alone, else null. */
function privateDir(dir) {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dir);
    return st.isDirectory() && onlyMine(st) ? dir : null;
  } catch {
    return null;
  }
}

function readCache(file) {
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    const st = fs.fstatSync(fd);
    return st.isFile() && onlyMine(st) ? fs.readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writeCache(dir, file, data) {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true });
    return;
  }
  try {
    const names = fs.readdirSync(dir);
    if (names.length <= KEEP_FILES) return;
    const aged = names.map((n) => [n, fs.statSync(path.join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0]).sort((a, b) => a[1] - b[1]);
    for (const [n] of aged.slice(0, names.length - KEEP_FILES)) fs.rmSync(path.join(dir, n), { force: true });
  } catch {
    // Housekeeping: a failure leaves files behind, not a broken start.
  }
}

const flagName = (flag) => flag.replace(/^--(no-)?/, '').split('=')[0];

/**
 * From here on, CommonJS files under `root` compile with a code cache in `dir` (`cacheDir()` by default; none when
 * the folder is not this user's alone). `flags`: the V8 flags the caller has set at run time. Returns, for tests and
 * measurements, what happened to each file: 'hit', 'miss' or 'rejected'.
 */
export function enableCodeCache({ root, flags = [], dir = cacheDir() }) {
  const seen = new Map();
  const usable = privateDir(dir);
  if (!usable) return seen;
  const prefix = path.resolve(root) + path.sep;
  // V8 files a cache under the flags in force when it is made and refuses it under others. The relay switches its
  // young generation's growth on and off as it runs (common/heap.ts), so the flags set at run time are followed
  // here, and a cache is made under the flags its bundle was compiled with, then the current ones are put back.
  const current = new Map(flags.map((f) => [flagName(f), f]));
  const setFlags = v8.setFlagsFromString;
  v8.setFlagsFromString = (flag) => {
    setFlags(flag);
    current.set(flagName(flag), flag);
  };
  const under = (wanted, make) => {
    const changed = wanted.filter((f) => current.get(flagName(f)) !== f);
    for (const f of changed) setFlags(f);
    try {
      return make();
    } finally {
      for (const f of changed) setFlags(current.get(flagName(f)));
    }
  };
  const pending = [];
  let timer = null;
  const save = () => {
    clearTimeout(timer);
    timer = null;
    for (const { script, file, compiledUnder } of pending.splice(0)) {
      let data;
      try {
        data = under(compiledUnder, () => script.createCachedData());
      } catch {
        continue;
      }
      writeCache(usable, file, data);
    }
  };
  process.once('exit', save);
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    return filename.startsWith(prefix) ? compileCached(this, content, filename) : compile.call(this, content, filename);
  };
  /** Node's own wrapping of a CommonJS file, through `vm.Script` so that V8 takes and gives its code cache. */
  const compileCached = (mod, content, filename) => {
    const compiledUnder = [...current.values()];
    const key = crypto.createHash('sha1').update(content).update(`\0${compiledUnder.join(' ')}\0${process.execArgv.join(' ')}`).digest('hex');
    const file = path.join(usable, `${path.basename(filename)}-${key}`);
    const cachedData = readCache(file);
    const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${content}\n})`, {
      filename, cachedData, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    const state = cachedData === undefined ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit';
    seen.set(filename, state);
    if (state !== 'hit') {
      pending.push({ script, file, compiledUnder });
      timer ??= setTimeout(save, SAVE_AFTER_MS).unref();
    }
    const require = (id) => mod.require(id);
    require.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
    require.main = process.mainModule;
    require.cache = Module._cache;
    return script.runInThisContext().call(mod.exports, mod.exports, require, mod, filename, path.dirname(filename));
  };
  return seen;
}
