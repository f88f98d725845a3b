/**
 * Small helpers for tests that talk to the simulated plugin over real HTTP.
 * They add nothing the plugin does not do: `login` is `GET /api/login/{moduleId}`,
 * `getJson` passes the token as `?key=`, `control` calls `/_sim/`.
 */
import type { Sim } from '../../sim/index.ts';

type Where = Pick<Sim, 'url'> & Partial<Pick<Sim, 'controlUrl'>>;

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: T;
  text: string;
}

async function answer<T>(res: Response): Promise<Answer<T>> {
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
  return { status: res.status, headers: res.headers, body: body as T, text };
}

/** Logs in and returns the token; throws with the plugin's answer when refused. */
export async function login(sim: Where, moduleId = '2050'): Promise<string> {
  const res = await fetch(`${sim.url}/api/login/${moduleId}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${text}`);
  return JSON.parse(text) as string;
}

/** Logs out (frees the licence slot). */
export async function logout(sim: Where, token: string): Promise<void> {
  await fetch(`${sim.url}/api/logout/${encodeURIComponent(token)}`).then((r) => r.text());
}

/** GET `path` (e.g. `/api/orders?$top=2`) with `?key=token` added when a token is given. */
export async function getJson<T = unknown>(sim: Where, path: string, token?: string, init: RequestInit = {}): Promise<Answer<T>> {
  let url = `${sim.url}${path}`;
  if (token !== undefined) url += `${path.includes('?') ? '&' : '?'}key=${encodeURIComponent(token)}`;
  return answer<T>(await fetch(url, init));
}

/** GET `path` and return the body, failing the test on any status but 200. */
export async function get<T = unknown>(sim: Where, path: string, token: string): Promise<T> {
  const a = await getJson<T>(sim, path, token);
  if (a.status !== 200) throw new Error(`GET ${path} answered ${a.status}: ${a.text}`);
  return a.body;
}

/** Calls the control API (`/_sim/...`) on the control URL. */
export async function control<T = unknown>(sim: Where, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const base = sim.controlUrl ?? sim.url;
  const res = await fetch(`${base}/_sim/${path.replace(/^\//, '')}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  return answer<T>(res);
}
