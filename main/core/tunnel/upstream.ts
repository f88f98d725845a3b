/**
 * What the tunnel calls to reach the plugin. The companion's plugin client
 * implements it: it drops any caller `key` and adds its own session.
 */
export interface UpstreamRequest {
  method: string;
  /** Begins with '/', includes the query; it has already passed the gate. */
  path: string;
  headers: Record<string, string>;
  body: AsyncIterable<Uint8Array> | null;
  signal: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  body: AsyncIterable<Uint8Array> | null;
}

/** Rejects with FrontError (unreachable | timeout | unlicensed | bad_response | http | auth). */
export interface Upstream {
  forward(req: UpstreamRequest): Promise<UpstreamResponse>;
}
