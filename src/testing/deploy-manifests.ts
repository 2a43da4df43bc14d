/**
 * deploy/ as `kubectl apply -k deploy/` installs it, for tests that check what it grants: the
 * manifests reached by following kustomization resources, and every (scope, group, resource,
 * verb) the RBAC bindings give one subject.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import type { Grant } from '../controllers/rbac.js';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject { kind: string; name: string; namespace?: string }
export interface Binding extends Manifest { roleRef: { kind: string; name: string }; subjects?: Subject[] }

/** The kustomization file of a folder, under any of the names kustomize accepts. */
function kustomizationFile(dir: string): string {
  const name = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].find((n) => existsSync(path.join(dir, n)));
  if (!name) throw new Error(`${dir} has no kustomization file`);
  return path.join(dir, name);
}

/** The objects a kustomization directory installs (resources: files and directories, recursively). */
export function kustomize(dir: string, seen = new Set<string>()): { manifests: Manifest[]; files: string[] } {
  const kustomization = loadAll(readFileSync(kustomizationFile(dir), 'utf8'))[0] as { resources?: string[] };
  const manifests: Manifest[] = [];
  const files: string[] = [];
  for (const entry of kustomization.resources ?? []) {
    const target = path.resolve(dir, entry);
    if (seen.has(target)) continue;
    seen.add(target);
    if (statSync(target).isDirectory()) {
      const sub = kustomize(target, seen);
      manifests.push(...sub.manifests);
      files.push(...sub.files);
    } else {
      files.push(target);
      for (const doc of loadAll(readFileSync(target, 'utf8'))) if (doc) manifests.push(doc as Manifest);
    }
  }
  return { manifests, files };
}

/** The manifest of a kind and name (and namespace), or an error naming what deploy/ lacks. */
export function findManifest<T extends Manifest = Manifest>(manifests: readonly Manifest[], kind: string, name: string, namespace?: string): T {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name && m.metadata.namespace === namespace);
  if (!found) throw new Error(`deploy/ has no ${kind} ${namespace ? `${namespace}/` : ''}${name}`);
  return found as T;
}

/**
 * Everything the bindings in `manifests` grant to the subjects `isSubject` accepts, one grant per
 * (scope, group, resource, verb), plus what cannot be checked that way (aggregation, nonResourceURLs,
 * wildcards). A rule with `resourceNames` grants one (…, resource/name, verb) per name. `listName` names the permissions list in messages.
 */
export function deployedGrants(manifests: readonly Manifest[], isSubject: (s: Subject) => boolean, listName: string): { grants: Grant[]; problems: string[] } {
  const grants: Grant[] = [];
  const problems: string[] = [];
  const bindings = manifests.filter((m) => m.kind === 'ClusterRoleBinding' || m.kind === 'RoleBinding') as Binding[];
  for (const b of bindings.filter((binding) => (binding.subjects ?? []).some(isSubject))) {
    const scope = b.kind === 'ClusterRoleBinding' ? 'cluster' : b.metadata.namespace ?? 'default';
    const role = b.roleRef.kind === 'ClusterRole' ? findManifest(manifests, b.roleRef.kind, b.roleRef.name) : findManifest(manifests, b.roleRef.kind, b.roleRef.name, b.metadata.namespace);
    if ('aggregationRule' in role) problems.push(`${role.kind} ${role.metadata.name} is aggregated: its rules are not reviewable here`);
    for (const rule of (role['rules'] ?? []) as Rule[]) {
      if (rule.nonResourceURLs?.length) problems.push(`${role.metadata.name}: nonResourceURLs ${rule.nonResourceURLs.join(',')} are not in ${listName}`);
      for (const apiGroup of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          for (const verb of rule.verbs ?? []) {
            if ([apiGroup, resource, verb].some((x) => x.includes('*'))) problems.push(`${role.metadata.name}: wildcard in ${apiGroup}/${resource}/${verb}`);
            for (const resourceName of rule.resourceNames?.length ? rule.resourceNames : [undefined]) {
              grants.push({ scope, apiGroup, resource, verb, ...(resourceName ? { resourceName } : {}) });
            }
          }
        }
      }
    }
  }
  return { grants, problems };
}
