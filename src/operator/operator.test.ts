import { describe, expect, it } from 'vitest';
import { stopLeaderWork, type LeaderWorkParts } from './operator.js';

/** The leader's parts as fakes that log each call; `onControllerStop` runs while the controller stops. */
function parts(calls: string[], onControllerStop: () => void = () => {}): LeaderWorkParts {
  return {
    unsubscribe: [() => calls.push('unsubscribe')],
    controller: {
      stop: async (timeoutMs?: number) => {
        calls.push(`controller.stop(${timeoutMs ?? 'default'})`);
        onControllerStop();
        return true;
      },
    },
    informers: [{ stop: async () => { calls.push('informer.stop'); } }],
    cluster: { stop: async () => { calls.push('cluster.stop'); } },
    sources: {
      stop: async () => { calls.push('sources.stop'); },
      takeNewFlows: () => { calls.push('sources.takeNewFlows'); return 0; },
      abandonWaiters: () => { calls.push('sources.abandonWaiters'); },
    },
    store: { pass: async (now: number) => { calls.push(`store.pass(${now})`); return true; } },
  };
}

describe('stopLeaderWork', () => {
  it.each([
    {
      name: 'shutdown: in-flight reconciles finish, then the final store pass writes what was learned',
      lost: 'never' as const,
      calls: ['unsubscribe', 'controller.stop(default)', 'informer.stop', 'cluster.stop', 'sources.stop', 'sources.takeNewFlows', 'store.pass(42)', 'sources.abandonWaiters'],
    },
    {
      name: 'leadership lost: no final store pass, in-flight reconciles not waited for',
      lost: 'before' as const,
      calls: ['unsubscribe', 'controller.stop(0)', 'informer.stop', 'cluster.stop', 'sources.stop', 'sources.takeNewFlows', 'sources.abandonWaiters'],
    },
    {
      name: 'leadership lost while a shutdown waits for the reconciles: no final store pass',
      lost: 'during' as const,
      calls: ['unsubscribe', 'controller.stop(default)', 'informer.stop', 'cluster.stop', 'sources.stop', 'sources.takeNewFlows', 'sources.abandonWaiters'],
    },
  ])('$name', async ({ lost, calls }) => {
    const seen: string[] = [];
    const lease = new AbortController();
    if (lost === 'before') lease.abort();
    await stopLeaderWork(parts(seen, () => { if (lost === 'during') lease.abort(); }), lease.signal, () => 42);
    expect(seen).toEqual(calls);
  });

  it('without a lost signal (an embedding that cannot lose a lease) the final pass runs', async () => {
    const seen: string[] = [];
    await stopLeaderWork(parts(seen), undefined, () => 7);
    expect(seen).toContain('store.pass(7)');
  });
});
