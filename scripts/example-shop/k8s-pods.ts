/** Pod objects (and the pod spec shared with controller templates) as `kubectl get -o yaml` prints them. */
import type { AppDef, PodModel } from './model.js';
import { rngFor } from './rand.js';
import { k8sTime } from './time.js';

type Obj = Record<string, unknown>;

export function resourceVersion(key: string, changed = 0): string {
  return String(rngFor(`rv:${key}`).int(1_000, 90_000) + changed);
}

function container(app: AppDef): Obj {
  const c: Obj = {
    image: app.image,
    imagePullPolicy: 'IfNotPresent',
    name: app.name,
    resources: app.kind === 'CronJob' ? {} : { requests: { cpu: '100m', memory: '128Mi' } },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  };
  if (app.ports.length > 0) c['ports'] = app.ports.map((p) => ({ containerPort: p.containerPort, name: p.name, protocol: p.protocol }));
  if (app.probePort) {
    c['livenessProbe'] = {
      failureThreshold: 3,
      httpGet: { path: '/healthz', port: app.probePort, scheme: app.probePort === 'https' ? 'HTTPS' : 'HTTP' },
      periodSeconds: 300, successThreshold: 1, timeoutSeconds: 1,
    };
  }
  if (app.name === 'nightly-report') c['args'] = ['--db=postgres://catalog-db:5432/catalog', '--mail=http://email'];
  return c;
}

/** `spec` of a pod, or of a controller's pod template (no nodeName then). */
export function podSpec(app: AppDef, pod?: PodModel): Obj {
  const spec: Obj = {
    containers: [container(app)],
    dnsPolicy: 'ClusterFirst',
    enableServiceLinks: true,
    restartPolicy: app.kind === 'CronJob' ? 'Never' : 'Always',
    schedulerName: 'default-scheduler',
    securityContext: {},
    serviceAccount: app.serviceAccount,
    serviceAccountName: app.serviceAccount,
    terminationGracePeriodSeconds: 30,
  };
  if (app.kind === 'StatefulSet' && app.service && pod) {
    spec['hostname'] = pod.name;
    spec['subdomain'] = app.service.name;
  }
  if (app.name === 'coredns') spec['priorityClassName'] = 'system-cluster-critical';
  if (pod) {
    spec['nodeName'] = pod.node.name;
    spec['preemptionPolicy'] = 'PreemptLowerPriority';
    spec['priority'] = app.name === 'coredns' ? 2000000000 : 0;
    spec['tolerations'] = [
      { effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists', tolerationSeconds: 300 },
      { effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists', tolerationSeconds: 300 },
    ];
  }
  return spec;
}

function status(pod: PodModel, at: number): Obj {
  const r = rngFor(`pod-status:${pod.uid}`);
  const started = pod.createdNs + 1_000_000_000;
  const done = pod.finishedNs !== undefined && pod.finishedNs <= at;
  const cond = (type: string, t: number, ok = true, reason?: string): Obj => ({
    lastProbeTime: null, lastTransitionTime: k8sTime(t), ...(reason ? { reason } : {}), status: ok ? 'True' : 'False', type,
  });
  const state: Obj = done
    ? { terminated: { containerID: `containerd://${r.hex(64)}`, exitCode: 0, finishedAt: k8sTime(pod.finishedNs as number), reason: 'Completed', startedAt: k8sTime(pod.readyNs) } }
    : { running: { startedAt: k8sTime(pod.readyNs - 1_000_000_000) } };
  return {
    conditions: [
      cond('PodReadyToStartContainers', started),
      cond('Initialized', pod.createdNs),
      done ? cond('Ready', pod.finishedNs as number, false, 'PodCompleted') : cond('Ready', pod.readyNs),
      done ? cond('ContainersReady', pod.finishedNs as number, false, 'PodCompleted') : cond('ContainersReady', pod.readyNs),
      cond('PodScheduled', pod.createdNs),
    ],
    containerStatuses: [{
      containerID: `containerd://${rngFor(`cid:${pod.uid}`).hex(64)}`,
      image: pod.app.image,
      imageID: `${pod.app.image.split(':')[0]}@sha256:${rngFor(`img:${pod.app.image}`).hex(64)}`,
      lastState: {}, name: pod.app.name, ready: !done, restartCount: 0, started: !done, state,
    }],
    hostIP: pod.node.ip,
    hostIPs: [{ ip: pod.node.ip }],
    phase: done ? 'Succeeded' : 'Running',
    podIP: pod.ip,
    podIPs: [{ ip: pod.ip }],
    qosClass: pod.app.kind === 'CronJob' ? 'BestEffort' : 'Burstable',
    startTime: k8sTime(pod.createdNs),
  };
}

export function podObject(pod: PodModel, at: number): Obj {
  const metadata: Obj = {
    creationTimestamp: k8sTime(pod.createdNs),
    labels: { ...pod.labels },
    name: pod.name,
    namespace: pod.namespace,
    ownerReferences: [{ ...pod.owner, blockOwnerDeletion: true, controller: true }],
    resourceVersion: resourceVersion(pod.uid, pod.finishedNs !== undefined && pod.finishedNs <= at ? 120_000 : 0),
    uid: pod.uid,
  };
  if (pod.app.kind !== 'StatefulSet') metadata['generateName'] = `${pod.owner.name}-`;
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: podSpec(pod.app, pod), status: status(pod, at) };
}
