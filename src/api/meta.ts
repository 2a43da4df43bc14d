/** Shared Kubernetes API shapes (ObjectMeta subset, Condition, LabelSelector) as zod schemas. */
import { z } from 'zod';

export const GROUP = 'hivewall.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A timestamp as the API returns it: RFC 3339 text, or a Date once @kubernetes/client-node deserialized it. */
export const timestampSchema = z.union([z.string(), z.date().transform((d) => d.toISOString())]);

export const objectMetaSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  deletionTimestamp: timestampSchema.optional(),
  finalizers: z.array(z.string()).optional(),
  creationTimestamp: timestampSchema.optional(),
});

/** metav1.Condition: the standard status condition shape. */
export const conditionSchema = z.object({
  type: z.string().describe('Condition type, e.g. Learning, Proposed, Approved, AuditClean, Enforced, Degraded, Ready.'),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().describe('CamelCase reason.'),
  message: z.string().default(''),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

export const labelSelectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(
      z
        .object({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() })
        // Kubernetes LabelSelectorRequirement: In/NotIn need values; Exists/DoesNotExist must have none.
        .refine((r) => ((r.operator === 'In' || r.operator === 'NotIn') ? (r.values?.length ?? 0) > 0 : (r.values?.length ?? 0) === 0), {
          message: 'In and NotIn need values; Exists and DoesNotExist take none',
        }),
    )
    .optional(),
});
export type LabelSelector = z.infer<typeof labelSelectorSchema>;
