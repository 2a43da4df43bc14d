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
  ownerReferences: z.array(z.looseObject({ apiVersion: z.string(), kind: z.string(), name: z.string(), uid: z.string(), controller: z.boolean().optional() })).optional(),
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

/**
 * A label key (k8s.io/apimachinery IsQualifiedName): an optional DNS-1123 subdomain prefix of at
 * most 253 characters and `/`, then a name of at most 63 characters that starts and ends with an
 * alphanumeric character and has only `-`, `_`, `.` and alphanumerics in between.
 */
export const LABEL_KEY_PATTERN = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$';
/** A label value (IsValidLabelValue): empty, or a name of at most 63 characters as above. */
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';
/** The prefix of a label key is at most 253 characters (CEL: the pattern cannot count it). */
const LABEL_KEY_PREFIX_RULE = (key: string) => `!${key}.contains('/') || ${key}.indexOf('/') <= 253`;
/** At most this many labels in one matchLabels (bounds the API server's CEL cost; no real selector comes close). */
const MAX_MATCH_LABELS = 64;
/** At most this many values in one requirement, and requirements in one selector. */
const MAX_SELECTOR_ITEMS = 64;

const labelKeySchema = z
  .string()
  .max(317)
  .regex(new RegExp(LABEL_KEY_PATTERN), 'not a Kubernetes label key ([prefix/]name: name up to 63 alphanumerics, -, _, . starting and ending alphanumeric; prefix a DNS-1123 subdomain)')
  .refine((k) => !k.includes('/') || k.indexOf('/') <= 253, 'label key prefix longer than 253 characters')
  .meta({ 'x-kubernetes-validations': [{ rule: LABEL_KEY_PREFIX_RULE('self'), message: 'label key prefix longer than 253 characters' }] });
const labelValueSchema = z
  .string()
  .max(63)
  .regex(new RegExp(LABEL_VALUE_PATTERN), 'not a Kubernetes label value (up to 63 alphanumerics, -, _, . starting and ending alphanumeric, or empty)');

/**
 * metav1.LabelSelector with Kubernetes' syntax checked in the CRD itself (patterns on values and
 * requirement keys, CEL on matchLabels keys, which a structural schema cannot constrain) and by
 * zod in the operator as a second line.
 */
export const labelSelectorSchema = z.object({
  matchLabels: z
    .record(labelKeySchema, labelValueSchema)
    .meta({
      maxProperties: MAX_MATCH_LABELS,
      'x-kubernetes-validations': [{
        rule: `self.all(k, k.matches('${LABEL_KEY_PATTERN.replaceAll('\\', '\\\\')}') && (${LABEL_KEY_PREFIX_RULE('k')}))`,
        message: 'every matchLabels key must be a Kubernetes label key ([prefix/]name: name up to 63 alphanumerics, -, _, . starting and ending alphanumeric; prefix a DNS-1123 subdomain)',
      }],
    })
    .optional(),
  matchExpressions: z
    .array(
      z
        .object({ key: labelKeySchema, operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(labelValueSchema).max(MAX_SELECTOR_ITEMS).optional() })
        // Kubernetes LabelSelectorRequirement: In/NotIn need values; Exists/DoesNotExist must have none.
        .refine((r) => ((r.operator === 'In' || r.operator === 'NotIn') ? (r.values?.length ?? 0) > 0 : (r.values?.length ?? 0) === 0), {
          message: 'In and NotIn need values; Exists and DoesNotExist take none',
        }),
    )
    .max(MAX_SELECTOR_ITEMS)
    .optional(),
});
export type LabelSelector = z.infer<typeof labelSelectorSchema>;
