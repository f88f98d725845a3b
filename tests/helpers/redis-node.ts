/**
 * One cluster node in a process of its own, so a test can kill -9 it:
 * `node --import tsx tests/helpers/redis-node.ts <redisUrl> <nodeId> <leaseMs> <renewMs> <venue>...`
 * (the cluster secret comes from EVVA_TEST_CLUSTER_SECRET: it must be the test's own)
 * claims the venues, prints `claimed {venue: epoch}` and keeps renewing until killed.
 */
import { Registry } from 'prom-client';
import { realClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/logger.ts';
import { createCluster } from '../../relay/cluster/cluster.ts';

const [redisUrl = '', nodeId = '', lease = '', renew = '', ...venues] = process.argv.slice(2);
const node = createCluster(
  { redisUrl, nodeId, advertise: 'http://127.0.0.1:9', secret: process.env.EVVA_TEST_CLUSTER_SECRET ?? 'x'.repeat(32), leaseMs: Number(lease), renewMs: Number(renew) },
  { clock: realClock, log: silentLogger, registry: new Registry() },
);
await node.start();
const epochs: Record<string, number | null> = {};
for (const v of venues) epochs[v] = await node.owners.claim(v);
process.stdout.write(`claimed ${JSON.stringify(epochs)}\n`);
