// Preloaded (NODE_OPTIONS=--require) by compiled-bins.test.ts: at exit, names the Node built-ins
// the process loaded, so a test can see that `status` never started Node's own HTTP client (fetch).
process.on('exit', () => {
  process.stdout.write(`BUILTINS ${process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).join(' ')}\n`);
});
