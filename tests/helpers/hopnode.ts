/**
 * A first node that only forwards (tests/integration/relay/cluster-hop.test.ts): every call
 * goes over the hop to the target given as argv[2], so the test can watch this
 * process's peak memory while large bodies stream through it. `GET /__mem`
 * answers { baseline, peak } in bytes (peak = VmHWM, the kernel's high-water
 * mark of resident memory).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createHopAgent, forward } from '../../relay/cluster/hop.ts';

const target = process.argv[2] as string;
const secret = process.argv[3] as string;
const agent = createHopAgent();
const peak = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
let baseline = 0;

const server = createServer((req, res) => {
  if (req.url === '/__mem') return void res.end(JSON.stringify({ baseline, peak: peak(), rss: process.memoryUsage().rss }));
  forward(req, res, { nodeId: 'owner', url: target }, {
    secret, nodeId: 'first', timeoutMs: 60_000, originalHost: req.headers.host ?? '', originalProto: 'http', client: req.socket.remoteAddress ?? null, agent,
  });
});
server.listen(0, '127.0.0.1', () => {
  baseline = peak();
  const addr = server.address();
  console.log(JSON.stringify({ listening: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` }));
});
process.on('SIGTERM', () => process.exit(0));
