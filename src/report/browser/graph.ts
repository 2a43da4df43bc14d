/** The cytoscape view of the report: elements from the data, styles, preset (precomputed) positions. */
import cytoscape from 'cytoscape';
import type { ReportData, ReportEdge } from '../data.js';
import { ENTITY_STYLE, FALLBACK_ENTITY, STATUS_STYLE } from './theme.js';

export const NAMESPACE_ID_PREFIX = 'ns-';

/** Edge width by flow count: 1.5 px for one connection, about 5 px for ten thousand. */
export function edgeWidth(edge: ReportEdge): number {
  return Math.round((1.5 + 0.9 * Math.log10(1 + Math.max(edge.count, edge.wouldDeny?.count ?? 0))) * 10) / 10;
}

export function edgeLabel(edge: Pick<ReportEdge, 'port' | 'protocol'>): string {
  return `${edge.port}/${edge.protocol}`;
}

export function createGraph(container: HTMLElement, data: ReportData): cytoscape.Core {
  const namespaceIndex = new Map(data.namespaces.map((ns, i) => [ns.name, i]));
  const populated = new Set(data.nodes.flatMap((n) => (n.namespace !== undefined ? [n.namespace] : [])));
  const elements: cytoscape.ElementDefinition[] = [];
  for (const ns of data.namespaces) {
    if (!populated.has(ns.name)) continue;
    elements.push({
      group: 'nodes',
      data: { id: `${NAMESPACE_ID_PREFIX}${namespaceIndex.get(ns.name)}`, label: ns.name, color: ns.color, namespace: ns.name },
      classes: ns.inScope ? 'namespace' : 'namespace out-of-scope',
      selectable: false,
    });
  }
  for (const n of data.nodes) {
    const entity = n.entity !== undefined ? (ENTITY_STYLE[n.entity] ?? FALLBACK_ENTITY) : undefined;
    const color = n.namespace !== undefined ? (data.namespaces[namespaceIndex.get(n.namespace) ?? -1]?.color ?? '#64748b') : (entity?.color ?? '#475569');
    elements.push({
      group: 'nodes',
      data: {
        id: n.id,
        label: n.label,
        color,
        shape: entity?.shape ?? 'ellipse',
        ...(n.namespace !== undefined ? { parent: `${NAMESPACE_ID_PREFIX}${namespaceIndex.get(n.namespace)}` } : {}),
      },
      position: { x: n.x, y: n.y },
      classes: n.type === 'workload' ? (n.skipped === undefined ? 'workload' : 'workload no-policy') : `entity entity-${n.entity ?? 'other'}`,
    });
  }
  for (const e of data.edges) {
    elements.push({
      group: 'edges',
      data: { id: e.id, source: e.source, target: e.target, label: edgeLabel(e), status: e.status, width: edgeWidth(e), color: STATUS_STYLE[e.status].color, bend: e.bend },
      classes: e.source === e.target ? `status-${e.status} loop` : `status-${e.status}`,
    });
  }

  return cytoscape({
    container,
    elements,
    layout: { name: 'preset', fit: true, padding: 40 },
    style: stylesheet(),
    minZoom: 0.05,
    maxZoom: 4,
    boxSelectionEnabled: false,
    selectionType: 'single',
    autounselectify: false,
    textureOnViewport: false,
    pixelRatio: 'auto',
  });
}

const FONT = 'Inter, "Segoe UI", system-ui, -apple-system, "Helvetica Neue", Arial, sans-serif';

function stylesheet(): cytoscape.StylesheetJson {
  return [
    {
      selector: 'node',
      style: {
        'font-family': FONT,
        'font-size': 13,
        color: '#0f172a',
        label: 'data(label)',
        'text-valign': 'bottom',
        'text-halign': 'center',
        'text-margin-y': 5,
        'text-wrap': 'ellipsis',
        'text-max-width': '150px',
        'text-background-color': '#ffffff',
        'text-background-opacity': 0.85,
        'text-background-padding': '2px',
        'text-background-shape': 'roundrectangle',
        'min-zoomed-font-size': 6,
        'background-color': 'data(color)',
        shape: 'data(shape)' as unknown as 'ellipse',
        width: 30,
        height: 30,
        'border-width': 2.5,
        'border-color': '#ffffff',
        'overlay-opacity': 0,
      },
    },
    {
      selector: 'node.entity',
      style: { width: 32, height: 32, 'font-size': 11.5, color: '#334155' },
    },
    {
      selector: 'node.no-policy',
      style: { 'border-color': '#dc2626', 'border-style': 'dashed', 'border-width': 2.5 },
    },
    {
      selector: 'node.namespace',
      style: {
        shape: 'round-rectangle',
        'background-color': 'data(color)',
        'background-opacity': 0.07,
        'border-color': 'data(color)',
        'border-width': 1.5,
        'border-opacity': 0.55,
        label: 'data(label)',
        'font-size': 14,
        'font-weight': 'bold',
        color: 'data(color)',
        'text-valign': 'top',
        'text-halign': 'center',
        'text-margin-y': 22,
        'text-background-opacity': 0,
        padding: '22px',
        'text-wrap': 'none',
        'min-zoomed-font-size': 5,
        events: 'yes',
      },
    },
    {
      selector: 'node.namespace.out-of-scope',
      style: { 'border-style': 'dashed', 'background-opacity': 0.03 },
    },
    {
      selector: 'edge',
      style: {
        // Bends are computed with the layout (around nodes, apart from parallel edges).
        'curve-style': 'unbundled-bezier',
        'control-point-distances': 'data(bend)' as unknown as number,
        'control-point-weights': 0.5,
        'edge-distances': 'node-position',
        width: 'data(width)',
        'line-color': 'data(color)',
        'target-arrow-color': 'data(color)',
        'target-arrow-shape': 'triangle',
        'arrow-scale': 0.95,
        'line-opacity': 0.7,
        label: 'data(label)',
        'font-family': FONT,
        'font-size': 10.5,
        color: '#334155',
        'text-rotation': 'autorotate',
        'text-background-color': '#ffffff',
        'text-background-opacity': 0.9,
        'text-background-padding': '1.5px',
        'text-background-shape': 'roundrectangle',
        'min-zoomed-font-size': 7,
        'overlay-padding': 5,
        'overlay-opacity': 0,
      },
    },
    { selector: 'edge.loop', style: { 'curve-style': 'bezier', 'control-point-step-size': 40 } },
    { selector: 'edge.status-would-deny', style: { 'line-style': 'dashed', 'line-dash-pattern': [7, 4], 'line-opacity': 0.95, color: '#b91c1c' } },
    { selector: 'edge.status-unmanaged', style: { 'line-style': 'dotted', 'line-opacity': 0.9 } },
    { selector: 'edge.status-enforced', style: { 'line-opacity': 0.9 } },
    {
      selector: 'edge:selected',
      style: { width: 'mapData(width, 0, 6, 4, 8)' as unknown as number, 'line-opacity': 1, 'underlay-color': '#fde047', 'underlay-opacity': 0.55, 'underlay-padding': 5, 'font-weight': 'bold', color: '#0f172a', 'z-index': 20 },
    },
    {
      selector: 'node:selected',
      style: { 'border-color': '#facc15', 'border-width': 4, 'underlay-color': '#fde047', 'underlay-opacity': 0.45, 'underlay-padding': 6, 'font-weight': 'bold' },
    },
    { selector: 'node.namespace:selected', style: { 'border-width': 2.5, 'border-color': 'data(color)', 'underlay-opacity': 0 } },
    { selector: 'edge.faded', style: { opacity: 0.16, 'text-opacity': 0 } },
    { selector: 'node.faded', style: { opacity: 0.35, 'text-opacity': 0.6 } },
    { selector: 'node.namespace.faded', style: { opacity: 0.6, 'text-opacity': 0.8 } },
    { selector: '.match', style: { 'underlay-color': '#22d3ee', 'underlay-opacity': 0.5, 'underlay-padding': 8 } },
    { selector: '.hidden', style: { display: 'none' } },
  ];
}
