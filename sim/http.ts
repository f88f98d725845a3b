/**
 * Small HTTP helpers shared by the plugin routes and the control routes:
 * answers with the version header, a bounded JSON body reader, and the safe
 * base URL that links are built from.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { VERSION_HEADER } from '../protocol/front.ts';
import { SimError } from './world.ts';

/** Largest control request body accepted. */
export const MAX_BODY_BYTES = 1_000_000;

export function send(res: ServerResponse, status: number, body: string, type: string, version: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    [VERSION_HEADER]: version,
  });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, version: string): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', version);
}

/** Reads a JSON body (empty body = `{}`). Refuses bodies over MAX_BODY_BYTES and bad JSON with a SimError(400/413). */
export function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        done = true;
        reject(new SimError(413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new SimError(400, `The request body is not valid JSON: ${(e as Error).message}`));
      }
    });
    req.on('error', (e) => {
      if (!done) { done = true; reject(e); }
    });
  });
}

const HOST_NAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const HOST_V6 = /^\[[0-9A-Fa-f:.]{2,45}\]$/;

/**
 * The `Host` header if it is a plain host[:port], else null. Only such a value
 * ever goes into a link, so a hostile header cannot inject text into answers.
 */
export function safeHost(header: string | undefined): string | null {
  if (!header || header.length > 260) return null;
  let host = header;
  let port: string | null = null;
  const colon = header.lastIndexOf(':');
  if (colon > -1 && !header.endsWith(']')) {
    host = header.slice(0, colon);
    port = header.slice(colon + 1);
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return null;
  }
  if (!HOST_NAME.test(host) && !HOST_V6.test(host)) return null;
  return port === null ? host : `${host}:${port}`;
}

/** `http://<Host>` from a safe Host header, else the address the sim listens on. */
export function baseUrl(req: IncomingMessage, fallbackHost: string, port: number): string {
  const host = safeHost(req.headers.host);
  if (host) return `http://${host}`;
  const h = fallbackHost.includes(':') ? `[${fallbackHost}]` : fallbackHost;
  return `http://${h}:${port}`;
}

/** decodeURIComponent that answers 400 instead of throwing on a bad escape. */
export function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new SimError(400, `The path segment '${s}' is not valid URL encoding.`);
  }
}
