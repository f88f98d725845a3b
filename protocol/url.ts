/** Small URL helpers shared by the core and the UI. */

/** The port of a URL (the scheme's default when none is written), or null when it is not a URL. */
export function portOf(url: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.port || (u.protocol === 'https:' ? '443' : '80');
  } catch {
    return null;
  }
}
