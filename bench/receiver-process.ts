/**
 * The operator's side of the agents, as a process of its own for bench/agent-fleet.ts: the real
 * EdgeReceiver (the operator's /v1/edges handler: authentication, schema, idempotency) merging
 * into a Learner's EdgeStore, as FlowSources attaches it. Authentication answers from memory (the
 * operator caches TokenReviews for a minute, so one review per agent per minute is all it costs).
 * Plain HTTP (the operator serves HTTPS on keep-alive connections). Started with `fork()`:
 * sends `{ port }`, answers `cpu` with its CPU seconds (user + system) so far.
 */
import http from 'node:http';
import { pino } from 'pino';
import { EdgeReceiver } from '../src/operator/receiver.js';
import { AGENT_USERNAME } from '../src/agent/rbac.js';
import { IdentityResolver } from '../src/domain/identity.js';
import { emptyInventory } from '../src/domain/inventory.js';
import { Learner } from '../src/domain/learner.js';

const learner = new Learner(new IdentityResolver(emptyInventory));
const receiver = new EdgeReceiver({
  authenticator: { authenticate: async () => ({ authenticated: true, username: AGENT_USERNAME, groups: [], extra: {} }) },
  logger: pino({ level: 'silent' }),
});
receiver.attach({ record: (...args) => learner.edges.record(...args), lost: () => undefined });
const server = http.createServer({ keepAliveTimeout: 60_000 }, receiver.handle);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 });
});
process.on('message', (message) => {
  if (message === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send?.({ cpu: (user + system) / 1e6, edges: learner.edges.size, connections: receiver.stats.connections });
  } else if (message === 'exit') {
    server.close();
    process.exit(0);
  }
});
