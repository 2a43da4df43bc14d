/**
 * Deterministic YAML: the same objects give byte-identical text, so a GitOps diff shows only
 * real change. Key order is the order the translators build (apiVersion, kind, metadata, spec);
 * every list was sorted upstream; no timestamps anywhere.
 */
import { dump } from 'js-yaml';
import { blockYaml, DUMP_OPTIONS } from './block-yaml.js';
import type { KubernetesObject } from './networkpolicy.js';

/** js-yaml's block YAML of `object`; plain data (every generated object) takes the fast writer. */
export function toYaml(object: unknown): string {
  return blockYaml(object) ?? dump(object, DUMP_OPTIONS);
}

/** File name of an object inside its namespace folder. */
export function objectFileName(object: KubernetesObject): string {
  return `${object.metadata.name}.yaml`;
}

/** A kustomization listing the namespace's objects, ready for `kubectl apply -k`. */
export function kustomization(objects: readonly KubernetesObject[]): string {
  const resources = objects.map(objectFileName).sort();
  return toYaml({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources });
}
