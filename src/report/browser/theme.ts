/** Colours, line styles and shapes of the report: one place for the graph, the legend and the panel. */
import type { EdgeStatus } from '../data.js';

export interface StatusStyle {
  readonly label: string;
  readonly color: string;
  readonly line: 'solid' | 'dashed' | 'dotted';
  readonly description: string;
}

export const STATUS_STYLE: Readonly<Record<EdgeStatus, StatusStyle>> = {
  proposed: { label: 'Proposed', color: '#2563eb', line: 'solid', description: 'allowed by the generated policies' },
  enforced: { label: 'Enforced', color: '#059669', line: 'solid', description: 'allowed by live policies' },
  'would-deny': { label: 'Would deny', color: '#dc2626', line: 'dashed', description: 'observed, but the policies would deny it' },
  unmanaged: { label: 'Out of scope', color: '#94a3b8', line: 'dotted', description: 'no policy in scope governs it' },
};

export interface EntityStyle {
  readonly label: string;
  readonly shape: string;
  readonly color: string;
  /** The glyph the legend shows. */
  readonly glyph: string;
}

export const ENTITY_STYLE: Readonly<Record<string, EntityStyle>> = {
  world: { label: 'world', shape: 'round-diamond', color: '#475569', glyph: '◆' },
  host: { label: 'host (node)', shape: 'round-rectangle', color: '#1e293b', glyph: '■' },
  'remote-node': { label: 'other node', shape: 'round-rectangle', color: '#64748b', glyph: '■' },
  'kube-apiserver': { label: 'kube-apiserver', shape: 'round-hexagon', color: '#0f172a', glyph: '⬢' },
};

export const FALLBACK_ENTITY: EntityStyle = { label: 'entity', shape: 'round-octagon', color: '#475569', glyph: '●' };
