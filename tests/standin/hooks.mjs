// Module resolve hook (node:module register): `electron` is the stand-in.
const target = new URL('./electron-module.mjs', import.meta.url).href;
export async function resolve(specifier, context, next) {
  if (specifier === 'electron' || specifier.startsWith('electron/')) return { url: target, shortCircuit: true };
  return next(specifier, context);
}
