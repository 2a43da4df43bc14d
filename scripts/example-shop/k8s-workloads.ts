/** ReplicaSets, Deployments, StatefulSets, DaemonSets, Jobs and CronJobs as `kubectl get -o yaml` prints them. */
import { podsAt, servingPods } from './cluster.js';
import { podSpec, resourceVersion } from './k8s-pods.js';
import type { ClusterModel, ControllerModel } from './model.js';
import { HOUR, k8sTime } from './time.js';

type Obj = Record<string, unknown>;

const DAY = 24 * HOUR;

function metadata(c: ControllerModel, changed: boolean, annotations?: Record<string, string>): Obj {
  const m: Obj = {
    creationTimestamp: k8sTime(c.createdNs),
    generation: c.kind === 'ReplicaSet' ? (c.replicas === 0 ? 2 : 1) : c.revision,
    labels: { ...c.labels },
    name: c.name,
    namespace: c.namespace,
    resourceVersion: resourceVersion(c.uid, changed ? 98_000 : 0),
    uid: c.uid,
  };
  if (annotations) m['annotations'] = annotations;
  if (c.owner) m['ownerReferences'] = [{ ...c.owner, blockOwnerDeletion: true, controller: true }];
  return m;
}

function template(c: ControllerModel): Obj {
  return { metadata: { labels: { ...c.templateLabels } }, spec: podSpec(c.app) };
}

/** Ready pods of a controller at `at` (Deployments count their ReplicaSets' pods). */
function readyCount(cluster: ClusterModel, c: ControllerModel, at: number): number {
  if (c.kind === 'ReplicaSet') return servingPods(cluster, c.app.name, at).filter((p) => p.owner.uid === c.uid).length;
  return servingPods(cluster, c.app.name, at).length;
}

function deployment(cluster: ClusterModel, c: ControllerModel, at: number): Obj {
  const ready = readyCount(cluster, c, at);
  const cond = (type: string, reason: string, message: string, t: number) => ({
    lastTransitionTime: k8sTime(t), lastUpdateTime: k8sTime(t), message, reason, status: 'True', type,
  });
  return {
    apiVersion: c.apiVersion, kind: c.kind,
    metadata: metadata(c, at > 0 && c.name === 'catalog', { 'deployment.kubernetes.io/revision': String(c.revision) }),
    spec: {
      progressDeadlineSeconds: 600, replicas: c.replicas, revisionHistoryLimit: 10, selector: { matchLabels: { ...c.selector } },
      strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' }, type: 'RollingUpdate' }, template: template(c),
    },
    status: {
      availableReplicas: ready,
      conditions: [
        cond('Available', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', c.name === 'catalog' && at > 0 ? 30 * 60 * 1e9 + 9_300_000_000 : c.createdNs + 12_000_000_000),
        cond('Progressing', 'NewReplicaSetAvailable', `ReplicaSet "${c.name}-${cluster.controllers.find((r) => r.kind === 'ReplicaSet' && r.owner?.uid === c.uid && r.replicas > 0)?.hash ?? ''}" has successfully progressed.`, c.createdNs + 12_000_000_000),
      ],
      observedGeneration: c.revision, readyReplicas: ready, replicas: c.replicas, updatedReplicas: c.replicas,
    },
  };
}

function replicaSet(cluster: ClusterModel, c: ControllerModel, at: number): Obj {
  const ready = readyCount(cluster, c, at);
  const status: Obj = c.replicas === 0
    ? { observedGeneration: 2, replicas: 0 }
    : { availableReplicas: ready, fullyLabeledReplicas: c.replicas, observedGeneration: 1, readyReplicas: ready, replicas: c.replicas };
  return {
    apiVersion: c.apiVersion, kind: c.kind,
    metadata: metadata(c, at > 0 && c.app.name === 'catalog', {
      'deployment.kubernetes.io/desired-replicas': String(c.app.nodes.length),
      'deployment.kubernetes.io/max-replicas': String(c.app.nodes.length + 1),
      'deployment.kubernetes.io/revision': String(c.revision),
    }),
    spec: { replicas: c.replicas, selector: { matchLabels: { ...c.selector } }, template: template(c) },
    status,
  };
}

function statefulSet(cluster: ClusterModel, c: ControllerModel, at: number): Obj {
  const ready = readyCount(cluster, c, at);
  return {
    apiVersion: c.apiVersion, kind: c.kind, metadata: metadata(c, false),
    spec: {
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      podManagementPolicy: 'OrderedReady', replicas: c.replicas, revisionHistoryLimit: 10,
      selector: { matchLabels: { ...c.selector } }, serviceName: c.app.service?.name ?? c.name, template: template(c),
      updateStrategy: { rollingUpdate: { partition: 0 }, type: 'RollingUpdate' },
    },
    status: {
      availableReplicas: ready, collisionCount: 0, currentReplicas: c.replicas, currentRevision: c.hash, observedGeneration: 1,
      readyReplicas: ready, replicas: c.replicas, updateRevision: c.hash, updatedReplicas: c.replicas,
    },
  };
}

function daemonSet(cluster: ClusterModel, c: ControllerModel, at: number): Obj {
  const ready = readyCount(cluster, c, at);
  return {
    apiVersion: c.apiVersion, kind: c.kind,
    metadata: metadata(c, false, { 'deprecated.daemonset.template.generation': '1' }),
    spec: {
      revisionHistoryLimit: 10, selector: { matchLabels: { ...c.selector } }, template: template(c),
      updateStrategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 1 }, type: 'RollingUpdate' },
    },
    status: {
      currentNumberScheduled: c.replicas, desiredNumberScheduled: c.replicas, numberAvailable: ready, numberMisscheduled: 0,
      numberReady: ready, observedGeneration: 1, updatedNumberScheduled: c.replicas,
    },
  };
}

function job(cluster: ClusterModel, c: ControllerModel): Obj {
  const pod = cluster.pods.find((p) => p.owner.uid === c.uid);
  const done = pod?.finishedNs ?? c.createdNs;
  const cond = (type: string, t: number) => ({
    lastProbeTime: k8sTime(t), lastTransitionTime: k8sTime(t),
    ...(type === 'SuccessCriteriaMet' || type === 'Complete' ? { message: 'Reached expected number of succeeded pods', reason: 'CompletionsReached' } : {}),
    status: 'True', type,
  });
  return {
    apiVersion: c.apiVersion, kind: c.kind,
    metadata: metadata(c, false, { 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2026-11-02T23:05:00+13:00' }),
    spec: {
      backoffLimit: 2, completionMode: 'NonIndexed', completions: 1, manualSelector: false, parallelism: 1,
      podReplacementPolicy: 'TerminatingOrFailed', selector: { matchLabels: { ...c.selector } }, suspend: false,
      template: template(c), ttlSecondsAfterFinished: 3600,
    },
    status: {
      completionTime: k8sTime(done + 1_000_000_000), conditions: [cond('SuccessCriteriaMet', done + 600_000_000), cond('Complete', done + 1_000_000_000)],
      ready: 0, startTime: k8sTime(c.createdNs), succeeded: 1, terminating: 0, uncountedTerminatedPods: {},
    },
  };
}

function cronJob(c: ControllerModel, at: number): Obj {
  const last = at > 0 ? 5 * 60 * 1e9 : 5 * 60 * 1e9 - DAY;
  return {
    apiVersion: c.apiVersion, kind: c.kind, metadata: metadata(c, at > 0),
    spec: {
      concurrencyPolicy: 'Forbid', failedJobsHistoryLimit: 1,
      jobTemplate: {
        metadata: {},
        spec: { backoffLimit: 2, template: { metadata: { labels: { ...c.templateLabels } }, spec: podSpec(c.app) }, ttlSecondsAfterFinished: 3600 },
      },
      schedule: '5 23 * * *', successfulJobsHistoryLimit: 3, suspend: false, timeZone: 'Pacific/Auckland',
    },
    status: { lastScheduleTime: k8sTime(last), lastSuccessfulTime: k8sTime(last + 43_000_000_000) },
  };
}

/** Objects of one kind present at `at`, in `kubectl get -A` order (namespace, then name). */
export function controllerObjects(cluster: ClusterModel, kind: ControllerModel['kind'], at: number): Obj[] {
  const present = cluster.controllers
    .filter((c) => c.kind === kind && (at > 0 ? c.inEnd : c.inStart))
    .filter((c) => c.kind !== 'Job' || podsAt(cluster, at).some((p) => p.owner.uid === c.uid))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  return present.map((c) => {
    switch (c.kind) {
      case 'Deployment': return deployment(cluster, c, at);
      case 'ReplicaSet': return replicaSet(cluster, c, at);
      case 'StatefulSet': return statefulSet(cluster, c, at);
      case 'DaemonSet': return daemonSet(cluster, c, at);
      case 'Job': return job(cluster, c);
      case 'CronJob': return cronJob(c, at);
    }
  });
}
