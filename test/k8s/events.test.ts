// The Event recorder against a real API server, as an identity with exactly the operator's Event
// permissions (src/controllers/rbac.ts: create, and patch of core Events): a repeat bumps the
// count of the one Event; without patch it falls back to new Events carrying the count.
import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { EventRecorder, kubeEventSink } from '../../src/k8s/events.js';
import { captureLogger } from '../../src/runtime/testing.js';
import { adminKubeConfig, bindRole, serviceAccountIdentity, testNamespace } from '../harness/index.js';

async function eventsOf(namespace: string, reason: string): Promise<CoreV1Event[]> {
  const list = await adminKubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: `reason=${reason}` });
  return list.items;
}

async function recorderAs(namespace: string, verbs: string[]) {
  const sa = await serviceAccountIdentity(namespace, `events-${verbs.join('-')}`);
  await bindRole({ namespace, subject: sa, rules: [{ apiGroups: [''], resources: ['events'], verbs }] });
  const log = captureLogger('info');
  const recorder = new EventRecorder({ sink: kubeEventSink(sa.kubeConfig.makeApiClient(CoreV1Api)), logger: log.logger, minPatchIntervalMs: 0 });
  return { recorder, log };
}

describe('EventRecorder on a real API server', () => {
  it('records one Event and bumps its count on repeats (create + patch, nothing else)', async () => {
    const ns = await testNamespace('events');
    const { recorder } = await recorderAs(ns.name, ['create', 'patch']);
    const seg = { apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { namespace: ns.name, name: 'seg', uid: '0b6c3c52-6d3f-4f5e-9a52-3f1c2a7e9d10' } };
    for (let i = 0; i < 3; i++) await recorder.record(seg, 'Warning', 'WouldDeny', 'shop/Deployment/a -> shop/Deployment/b 80/TCP would be denied');
    await recorder.record(seg, 'Warning', 'WouldDeny', 'another message');
    const events = (await eventsOf(ns.name, 'WouldDeny')).sort((a, b) => (a.message ?? '').localeCompare(b.message ?? ''));
    expect(events.map((e) => [e.message, e.count])).toEqual([
      ['another message', 1],
      ['shop/Deployment/a -> shop/Deployment/b 80/TCP would be denied', 3],
    ]);
    expect(events[1]).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Segmentation', name: 'seg', uid: seg.metadata.uid }, source: { component: 'hivewall' } });
    expect(events[1]!.lastTimestamp!.getTime()).toBeGreaterThanOrEqual(events[1]!.firstTimestamp!.getTime());
  });

  it('without patch permission, repeats become new Events with the accumulated count', async () => {
    const ns = await testNamespace('events-nopatch');
    const { recorder, log } = await recorderAs(ns.name, ['create']);
    const seg = { apiVersion: 'hivewall.dev/v1alpha1', kind: 'Segmentation', metadata: { namespace: ns.name, name: 'seg' } };
    await recorder.record(seg, 'Normal', 'Proposed', 'revision 1');
    await recorder.record(seg, 'Normal', 'Proposed', 'revision 1');
    expect((await eventsOf(ns.name, 'Proposed')).map((e) => e.count).sort()).toEqual([1, 2]);
    expect(log.find('may not patch Events: repeats are recorded as new Events')).toHaveLength(1);
  });
});
