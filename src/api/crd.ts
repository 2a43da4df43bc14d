/**
 * CustomResourceDefinitions generated from the zod schemas (the single source of truth):
 * zod → JSON Schema (OpenAPI 3.0 flavour) → a structural schema as apiextensions.k8s.io/v1
 * requires (no `$schema`, preserve-unknown-fields instead of open objects, no JS integer bounds),
 * plus printer columns and the status subresource. `npm run gen:crds` writes crds/; a test fails
 * when the files differ from what the schemas generate.
 */
import { z } from 'zod';
import { KINDS } from '../k8s/kinds.js';
import { GROUP, VERSION } from './meta.js';
import { policyProposalSchema } from './policy-proposal.js';
import { segmentationSchema } from './segmentation.js';
import { trafficProfileSchema } from './traffic-profile.js';

type JsonSchema = Record<string, unknown>;

export interface CrdDefinition {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly schema: z.ZodObject;
  readonly description: string;
  readonly printerColumns: readonly { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
}

export const CRDS: readonly CrdDefinition[] = [
  {
    kind: 'Segmentation',
    plural: KINDS.Segmentation.plural,
    singular: 'segmentation',
    shortNames: ['seg', 'segs'],
    schema: segmentationSchema,
    description: 'Segmentation is hivewall\'s contract with a namespace: learn its traffic, propose least-privilege policies, audit and enforce them.',
    printerColumns: [
      { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Edges', type: 'integer', jsonPath: '.status.learning.edges' },
      { name: 'Proposal', type: 'string', jsonPath: '.status.proposal.name' },
      { name: 'Would-Deny', type: 'integer', jsonPath: '.status.audit.wouldDeny', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
  {
    kind: 'PolicyProposal',
    plural: KINDS.PolicyProposal.plural,
    singular: 'policyproposal',
    shortNames: ['pp', 'proposal', 'proposals'],
    schema: policyProposalSchema,
    description: 'PolicyProposal holds the exact policies hivewall would apply, the evidence for every rule, and a reviewer\'s decision.',
    printerColumns: [
      { name: 'Segmentation', type: 'string', jsonPath: '.spec.content.segmentation' },
      { name: 'Revision', type: 'integer', jsonPath: '.spec.content.revision' },
      { name: 'Decision', type: 'string', jsonPath: '.spec.review.decision' },
      { name: 'Reviewer', type: 'string', jsonPath: '.spec.review.reviewer' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
  {
    kind: 'TrafficProfile',
    plural: KINDS.TrafficProfile.plural,
    singular: 'trafficprofile',
    shortNames: ['tp'],
    schema: trafficProfileSchema,
    description: 'TrafficProfile is the learned communication graph of a namespace, persisted so learning survives restarts.',
    printerColumns: [
      { name: 'Segmentation', type: 'string', jsonPath: '.spec.segmentation' },
      { name: 'Flows', type: 'integer', jsonPath: '.spec.flows' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  },
];

/** Rewrites zod's JSON Schema into a Kubernetes structural schema. */
export function toStructural(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema' || key === 'id') continue;
    if ((key === 'maximum' && value === Number.MAX_SAFE_INTEGER) || (key === 'minimum' && value === Number.MIN_SAFE_INTEGER)) continue;
    if (key === 'properties' && value && typeof value === 'object') {
      out.properties = Object.fromEntries(Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, toStructural(v)]));
    } else if ((key === 'items' || key === 'additionalProperties') && value && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = toStructural(value as JsonSchema);
    } else {
      out[key] = value;
    }
  }
  // An open object (`looseObject`, passthrough) keeps unknown fields instead of `additionalProperties: {}`.
  const additional = out.additionalProperties as JsonSchema | undefined;
  if (out.type === 'object' && additional && Object.keys(additional).length === 0) {
    delete out.additionalProperties;
    if (out.properties && Object.keys(out.properties as object).length === 0) delete out.properties;
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

function versionSchema(def: CrdDefinition): JsonSchema {
  const json = z.toJSONSchema(def.schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const properties = { ...(json.properties as Record<string, JsonSchema>) };
  properties.apiVersion = { type: 'string' };
  properties.kind = { type: 'string' };
  properties.metadata = { type: 'object' };
  const structural = toStructural({ ...json, properties });
  return { description: def.description, ...structural, required: ['spec'] };
}

export function crdObject(def: CrdDefinition): Record<string, unknown> {
  const hasStatus = 'status' in def.schema.shape;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}`, labels: { 'app.kubernetes.io/name': 'hivewall', 'app.kubernetes.io/part-of': 'hivewall' } },
    spec: {
      group: GROUP,
      names: { kind: def.kind, listKind: `${def.kind}List`, plural: def.plural, singular: def.singular, shortNames: [...def.shortNames], categories: ['hivewall'] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          ...(hasStatus ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: def.printerColumns,
          schema: { openAPIV3Schema: versionSchema(def) },
        },
      ],
    },
  };
}
