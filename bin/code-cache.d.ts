// Types of bin/code-cache.js (plain JavaScript, as the bins are) for the TypeScript that imports it: the tests.
export function cacheDir(env?: NodeJS.ProcessEnv | Record<string, string>, platform?: NodeJS.Platform): string;
export function enableCodeCache(options: { root: string; flags?: string[]; dir?: string }): Map<string, 'hit' | 'miss' | 'rejected'>;
