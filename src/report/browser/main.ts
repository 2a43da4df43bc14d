/**
 * The report page: reads the embedded JSON, draws the header, toolbar (filters), graph, legend
 * and the evidence panel. Everything is built with text nodes (see dom.ts); nothing is fetched.
 */
import './report.css';
import type cytoscape from 'cytoscape';
import { EDGE_STATUSES, type EdgeStatus, type ReportData, type ReportEdge, type ReportNode, type ReportRuleRef } from '../data.js';
import { append, button, clear, el, number, time, type Child } from './dom.js';
import { createGraph, edgeLabel } from './graph.js';
import { ENTITY_STYLE, FALLBACK_ENTITY, STATUS_STYLE } from './theme.js';

/** The handle the page leaves on `window.hivewall` for automation and debugging. */
export interface ReportHandle {
  readonly data: ReportData;
  readonly cy: cytoscape.Core;
  select(id: string | null): void;
  visible(): { nodes: number; edges: number };
}

declare global {
  interface Window {
    hivewall?: ReportHandle;
  }
}

const ENTITIES_FILTER = '\u0000entities';

function readData(): ReportData {
  const script = document.getElementById('hivewall-data');
  if (!script?.textContent) throw new Error('report data is missing');
  return JSON.parse(script.textContent) as ReportData;
}

function start(): void {
  const data = readData();
  const app = document.getElementById('app')!;
  const nodesById = new Map(data.nodes.map((n) => [n.id, n]));
  const edgesById = new Map(data.edges.map((e) => [e.id, e]));
  const nsColor = new Map(data.namespaces.map((ns) => [ns.name, ns.color]));

  const hiddenStatuses = new Set<EdgeStatus>();
  const hiddenNamespaces = new Set<string>();
  let selected: string | null = null;
  let labels = true;

  // ---- layout of the page
  const graphBox = el('div', { class: 'hw-graph', id: 'graph', role: 'img', 'aria-label': `Traffic graph: ${data.nodes.length} nodes, ${data.edges.length} edges` });
  const panel = el('aside', { class: 'hw-panel', id: 'panel', 'aria-live': 'polite' });
  const tooltip = el('div', { class: 'hw-tooltip', role: 'tooltip' });
  const shown = el('div', { class: 'hw-shown', 'data-testid': 'shown' });

  const statusChips = EDGE_STATUSES.map((status) => {
    const count = data.summary.byStatus[status];
    const chip = button(
      [swatchLine(status), STATUS_STYLE[status].label, el('span', { class: 'hw-count' }, number(count))],
      () => {
        if (hiddenStatuses.has(status)) hiddenStatuses.delete(status);
        else hiddenStatuses.add(status);
        chip.setAttribute('aria-pressed', String(!hiddenStatuses.has(status)));
        applyFilters();
      },
      { class: `hw-chip${count === 0 ? ' hw-empty' : ''}`, 'aria-pressed': 'true', 'data-status': status, title: STATUS_STYLE[status].description },
    );
    return chip;
  });
  const groups: { key: string; label: string; color: string }[] = [
    ...data.namespaces.filter((ns) => ns.workloads > 0).map((ns) => ({ key: ns.name, label: ns.name, color: ns.color })),
    ...(data.summary.entities > 0 ? [{ key: ENTITIES_FILTER, label: 'outside', color: '#334155' }] : []),
  ];
  const namespaceChips = groups.map((g) => {
    const chip = button(
      [el('span', { class: 'hw-dot', 'data-color': g.color }), g.label],
      () => {
        if (hiddenNamespaces.has(g.key)) hiddenNamespaces.delete(g.key);
        else hiddenNamespaces.add(g.key);
        chip.setAttribute('aria-pressed', String(!hiddenNamespaces.has(g.key)));
        applyFilters();
      },
      { class: 'hw-chip', 'aria-pressed': 'true', 'data-namespace': g.key === ENTITIES_FILTER ? '' : g.key, title: g.key === ENTITIES_FILTER ? 'entities: the world, the node (host), the API server, other nodes' : `namespace ${g.label}` },
    );
    return chip;
  });

  const search = el('input', { class: 'hw-search', type: 'search', placeholder: 'Find workload or IP…', 'aria-label': 'Find a workload or an address' });
  search.addEventListener('input', () => {
    const q = search.value.trim().toLowerCase();
    cy.batch(() => {
      cy.nodes().removeClass('match');
      if (q.length === 0) return;
      cy.nodes('.workload, .entity').forEach((node) => {
        const n = nodesById.get(node.id())!;
        if (n.title.toLowerCase().includes(q) || n.names.some((name) => name.includes(q))) node.addClass('match');
      });
    });
  });
  search.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    const first = cy.nodes('.match').filter((n) => !n.hasClass('hidden'))[0];
    if (first) {
      select(first.id());
      cy.animate({ center: { eles: first }, duration: 250 });
    }
  });
  const labelToggle = button('Port labels', () => {
    labels = !labels;
    cy.batch(() => cy.edges().style('label', labels ? 'data(label)' : ''));
    labelToggle.setAttribute('aria-pressed', String(labels));
  }, { class: 'hw-button', 'aria-pressed': 'true', title: 'Show or hide port/protocol on the edges' });
  const fit = button('Fit', () => cy.animate({ fit: { eles: cy.elements(':visible'), padding: 40 }, duration: 250 }), { class: 'hw-button', title: 'Fit the graph to the window' });

  append(
    app,
    header(data),
    el('div', { class: 'hw-toolbar' },
      el('div', { class: 'hw-filter', role: 'group', 'aria-label': 'Filter by status' }, el('span', { class: 'hw-filter-label' }, 'Status'), ...statusChips),
      el('div', { class: 'hw-filter', role: 'group', 'aria-label': 'Filter by namespace' }, el('span', { class: 'hw-filter-label' }, 'Namespaces'), ...namespaceChips)),
    el('main', { class: 'hw-main' },
      el('div', { class: 'hw-stage' }, graphBox, shown, el('div', { class: 'hw-tools' }, search, labelToggle, fit), tooltip),
      panel),
    legend(data),
  );
  // Created once its container is in the page; the handlers above only run after this.
  const cy = createGraph(graphBox, data);

  // ---- filters
  function applyFilters(): void {
    cy.batch(() => {
      const statusFiltered = hiddenStatuses.size > 0;
      cy.nodes('.workload, .entity').forEach((node) => {
        const n = nodesById.get(node.id())!;
        node.toggleClass('hidden', hiddenNamespaces.has(n.namespace ?? ENTITIES_FILTER));
      });
      cy.edges().forEach((edge) => {
        const e = edgesById.get(edge.id())!;
        edge.toggleClass('hidden', hiddenStatuses.has(e.status) || edge.source().hasClass('hidden') || edge.target().hasClass('hidden'));
      });
      if (statusFiltered) {
        // Showing only some statuses: a node none of whose edges is shown goes too.
        cy.nodes('.workload, .entity').forEach((node) => {
          if (!node.hasClass('hidden') && node.connectedEdges().filter((e) => !e.hasClass('hidden')).length === 0) node.addClass('hidden');
        });
      }
      cy.nodes('.namespace').forEach((ns) => {
        ns.toggleClass('hidden', ns.children().filter((c) => !c.hasClass('hidden')).length === 0);
      });
    });
    const v = visible();
    clear(shown);
    append(shown, 'Showing ', el('b', { 'data-testid': 'shown-nodes' }, number(v.nodes)), ` of ${number(data.nodes.length)} nodes · `, el('b', { 'data-testid': 'shown-edges' }, number(v.edges)), ` of ${number(data.edges.length)} edges`);
    if (selected && cy.getElementById(selected).hasClass('hidden')) select(null);
  }

  function visible(): { nodes: number; edges: number } {
    return {
      nodes: cy.nodes('.workload, .entity').filter((n) => !n.hasClass('hidden')).length,
      edges: cy.edges().filter((e) => !e.hasClass('hidden')).length,
    };
  }

  // ---- selection and the evidence panel
  function select(id: string | null): void {
    selected = id;
    cy.batch(() => {
      cy.elements().unselect().removeClass('faded');
      if (id === null) return;
      const element = cy.getElementById(id);
      if (element.empty()) return;
      element.select();
      const focus = element.group() === 'edges' ? element.union(element.connectedNodes()) : element.closedNeighborhood();
      const keep = focus.union(focus.nodes().ancestors());
      cy.elements().not(keep).addClass('faded');
    });
    renderPanel();
  }

  function renderPanel(): void {
    clear(panel);
    const edge = selected ? edgesById.get(selected) : undefined;
    const node = selected ? nodesById.get(selected) : undefined;
    if (edge) append(panel, ...edgePanel(edge));
    else if (node) append(panel, ...nodePanel(node));
    else append(panel, ...overviewPanel());
    panel.scrollTop = 0;
  }

  const nodeName = (id: string): string => nodesById.get(id)?.title ?? id;

  function peerLink(id: string): HTMLElement {
    const n = nodesById.get(id);
    if (!n) return el('span', {}, id);
    return button([nodeDot(n), n.title], () => select(id), { class: 'hw-link', title: `Show ${n.title}` });
  }

  function nodeDot(n: ReportNode): HTMLElement {
    const entity = n.entity !== undefined ? (ENTITY_STYLE[n.entity] ?? FALLBACK_ENTITY) : undefined;
    return entity
      ? el('span', { class: 'hw-glyph', 'data-color': entity.color }, entity.glyph)
      : el('span', { class: 'hw-dot', 'data-color': nsColor.get(n.namespace ?? '') ?? '#64748b' });
  }

  function edgeRow(e: ReportEdge, direction: 'in' | 'out' | 'both'): HTMLElement {
    const text = direction === 'in' ? nodeName(e.source) : direction === 'out' ? nodeName(e.target) : `${nodesById.get(e.source)?.label ?? e.source} → ${nodesById.get(e.target)?.label ?? e.target}`;
    return el(
      'li',
      {},
      button(
        [swatchLine(e.status), el('span', { class: 'hw-row-main' }, text), el('span', { class: 'hw-row-port' }, edgeLabel(e)), el('span', { class: 'hw-row-count' }, number(e.wouldDeny && e.count === 0 ? e.wouldDeny.count : e.count))],
        () => select(e.id),
        { class: 'hw-row', 'data-edge': e.id, title: `${STATUS_STYLE[e.status].label}: ${nodeName(e.source)} → ${nodeName(e.target)} ${edgeLabel(e)}` },
      ),
    );
  }

  function edgePanel(e: ReportEdge): Child[] {
    const style = STATUS_STYLE[e.status];
    return [
      el('div', { class: 'hw-panel-head' }, el('div', { class: 'hw-kicker' }, 'Edge'), button('×', () => select(null), { class: 'hw-close', 'aria-label': 'Close' })),
      el('h2', { class: 'hw-edge-title' }, el('span', {}, nodesById.get(e.source)?.label ?? e.source), el('span', { class: 'hw-arrow' }, '\u00a0→\u00a0'), el('span', {}, nodesById.get(e.target)?.label ?? e.target)),
      el('div', { class: 'hw-badges' }, badge(style.label, style.color, `status-${e.status}`), el('span', { class: 'hw-mono hw-portbadge' }, edgeLabel(e))),
      el('p', { class: 'hw-muted' }, `${style.label}: ${style.description}.`),
      dl([
        ['Client', peerLink(e.source)],
        ['Server', peerLink(e.target)],
        ['Port / protocol', el('span', { class: 'hw-mono', 'data-field': 'port' }, edgeLabel(e))],
        ['Flows', el('span', { 'data-field': 'count' }, number(e.count))],
        ['First seen', el('span', { 'data-field': 'first-seen' }, time(e.firstSeen))],
        ['Last seen', el('span', { 'data-field': 'last-seen' }, time(e.lastSeen))],
      ]),
      section('Allowed by (generated policies)', e.proposed.length > 0
        ? rules(e.proposed)
        : el('p', { class: 'hw-muted' }, e.gaps.length > 0 ? 'No generated rule allows this edge.' : 'No generated policy governs this edge: neither side is in a namespace in scope.')),
      e.gaps.length > 0 ? section('Not allowed', el('ul', { class: 'hw-list hw-warn' }, ...e.gaps.map((g) => el('li', {}, g)))) : null,
      section('Enforced (live policies)', e.enforced === undefined
        ? el('p', { class: 'hw-muted' }, 'Live policies were not part of this report.')
        : e.enforced.length > 0 ? rules(e.enforced) : el('p', { class: 'hw-muted' }, 'No live policy allows this edge.')),
      e.denied
        ? section('Denied while enforced', dl([
            ['Denied connections', el('span', { 'data-field': 'enforced-denied-count' }, number(e.denied.count))],
            ...(e.denied.since ? [['Since', time(e.denied.since)] as [string, Child]] : []),
            ...(e.denied.last ? [['Last denied', time(e.denied.last)] as [string, Child]] : []),
            ['Rolled back', el('span', { 'data-field': 'rolled-back' }, e.denied.rolledBack ? 'yes: the denying policy was removed' : 'no')],
            ['Follow-up', el('span', { 'data-field': 'denied-proposed' }, e.denied.proposed ? 'proposed for review (never allowed without approval)' : 'not in the proposal shown')],
          ]))
        : null,
      e.wouldDeny
        ? section('Would deny', dl([
            ['Denied flows', el('span', { 'data-field': 'denied-count' }, number(e.wouldDeny.count))],
            ['Reason', e.wouldDeny.reasons.join(', ')],
            ...(e.wouldDeny.firstSeen ? [['First seen', time(e.wouldDeny.firstSeen)] as [string, Child]] : []),
            ...(e.wouldDeny.lastSeen ? [['Last seen', time(e.wouldDeny.lastSeen)] as [string, Child]] : []),
          ]))
        : null,
    ];
  }

  function rules(refs: readonly ReportRuleRef[]): HTMLElement {
    return el('ul', { class: 'hw-rules' }, ...refs.map((r) => el(
      'li',
      { 'data-policy': `${r.namespace}/${r.policy}` },
      el('div', { class: 'hw-rule-head' },
        el('span', { class: 'hw-mono hw-policy' }, `${r.namespace}/${r.policy}`),
        el('span', { class: `hw-dir hw-dir-${r.direction}` }, r.rule !== undefined ? `${r.direction} rule ${r.rule}` : r.direction),
        r.allowance ? el('span', { class: 'hw-allowance', title: 'an explicit allowance, not only what was observed' }, r.allowance) : null),
      el('div', { class: 'hw-rule-text' }, r.description),
    )));
  }

  function nodePanel(n: ReportNode): Child[] {
    const incoming = data.edges.filter((e) => e.target === n.id);
    const outgoing = data.edges.filter((e) => e.source === n.id);
    const entity = n.entity !== undefined ? (ENTITY_STYLE[n.entity] ?? FALLBACK_ENTITY) : undefined;
    return [
      el('div', { class: 'hw-panel-head' }, el('div', { class: 'hw-kicker' }, n.type === 'workload' ? n.kind ?? 'Workload' : entity?.label ?? 'Entity'), button('×', () => select(null), { class: 'hw-close', 'aria-label': 'Close' })),
      el('h2', {}, nodeDot(n), n.type === 'workload' ? n.name ?? n.label : n.label),
      dl([
        ...(n.namespace !== undefined ? [['Namespace', n.namespace] as [string, Child]] : []),
        ...(n.ip !== undefined ? [['Address', el('span', { class: 'hw-mono' }, n.ip)] as [string, Child]] : []),
        ...(n.names.length > 0 ? [['DNS names', n.names.join(', ')] as [string, Child]] : []),
        ...(n.policy ? [['Policy', el('span', { class: 'hw-mono' }, `${n.policy.namespace}/${n.policy.name}`)] as [string, Child], ['Selector', el('span', { class: 'hw-mono' }, Object.entries(n.policy.matchLabels).map(([k, v]) => `${k}=${v}`).join(', ') || '(all pods)')] as [string, Child]] : []),
        ...(n.skipped !== undefined ? [['No policy', el('span', { class: 'hw-warn' }, n.skipped)] as [string, Child]] : []),
        ['Peer key', el('span', { class: 'hw-mono hw-small' }, n.key)],
      ]),
      section(`Ingress · ${incoming.length}`, incoming.length > 0 ? el('ul', { class: 'hw-rows' }, ...incoming.map((e) => edgeRow(e, 'in'))) : el('p', { class: 'hw-muted' }, 'No incoming edge.')),
      section(`Egress · ${outgoing.length}`, outgoing.length > 0 ? el('ul', { class: 'hw-rows' }, ...outgoing.map((e) => edgeRow(e, 'out'))) : el('p', { class: 'hw-muted' }, 'No outgoing edge.')),
    ];
  }

  function overviewPanel(): Child[] {
    const denied = data.edges.filter((e) => e.status === 'would-deny');
    const enforcedDenied = data.edges.filter((e) => e.denied).sort((a, b) => b.denied!.count - a.denied!.count || (a.id < b.id ? -1 : 1));
    const busiest = [...data.edges].sort((a, b) => b.count - a.count || (a.id < b.id ? -1 : 1)).slice(0, 8);
    return [
      el('div', { class: 'hw-panel-head' }, el('div', { class: 'hw-kicker' }, 'Evidence')),
      el('h2', {}, 'Click an edge or a node'),
      el('p', { class: 'hw-muted' }, 'Every edge is a connection that was observed: client, server port and protocol. Select one to see its flow count, when it was first and last seen, and the policy rule that allows it.'),
      data.summary.skipped.length > 0
        ? section('Workloads without a policy', el('ul', { class: 'hw-list hw-warn' }, ...data.summary.skipped.map((s) => el('li', {}, `${s.workload}: ${s.reason}`))))
        : null,
      section(`Would deny · ${denied.length}`, denied.length > 0
        ? el('ul', { class: 'hw-rows' }, ...denied.map((e) => edgeRow(e, 'both')))
        : el('p', { class: 'hw-muted' }, 'No observed flow would be denied.')),
      enforcedDenied.length > 0
        ? el('div', { 'data-testid': 'enforced-denied' }, section(`Denied while enforced · ${enforcedDenied.length}`, el('ul', { class: 'hw-rows' }, ...enforcedDenied.map((e) => edgeRow(e, 'both')))))
        : null,
      (data.rollbacks ?? []).length > 0
        ? el('div', { 'data-testid': 'rollbacks' }, section('Rolled back', el('ul', { class: 'hw-list hw-warn' }, ...(data.rollbacks ?? []).map((r) =>
            el('li', {}, `${r.namespace}: ${r.policies.join(', ')} of ${r.proposal} removed at ${time(r.at)} (workloads ${r.workloads.join(', ')}); a newer approved proposal enforces them again`)))))
        : null,
      data.coverage !== undefined
        ? el('div', { 'data-testid': 'coverage' }, section(`Coverage gaps · ${data.coverage.length}`, data.coverage.length > 0
          ? el('ul', { class: 'hw-list hw-warn' }, ...data.coverage.map((c) => el('li', { 'data-reason': c.reason }, c.node !== undefined
            ? button(c.workload, () => select(c.node!), { class: 'hw-link' })
            : el('span', {}, c.workload), `: ${c.message}`)))
          : el('p', { class: 'hw-muted' }, 'The learning window could have seen every workload.')))
        : null,
      section('Busiest edges', el('ul', { class: 'hw-rows' }, ...busiest.map((e) => edgeRow(e, 'both')))),
    ];
  }

  // ---- graph events
  cy.on('tap', 'edge', (event) => select((event.target as cytoscape.EdgeSingular).id()));
  cy.on('tap', 'node.workload, node.entity', (event) => select((event.target as cytoscape.NodeSingular).id()));
  cy.on('tap', 'node.namespace', () => select(null));
  cy.on('tap', (event) => {
    if (event.target === cy) select(null);
  });
  cy.on('mouseover', 'edge', (event) => {
    const e = edgesById.get((event.target as cytoscape.EdgeSingular).id());
    if (!e) return;
    clear(tooltip);
    append(tooltip, el('b', {}, `${nodesById.get(e.source)?.label} → ${nodesById.get(e.target)?.label}`), ` ${edgeLabel(e)} · ${number(e.count)} flows · ${STATUS_STYLE[e.status].label.toLowerCase()}`);
    tooltip.classList.add('hw-visible');
  });
  cy.on('mouseover', 'node.workload, node.entity', (event) => {
    const n = nodesById.get((event.target as cytoscape.NodeSingular).id());
    if (!n) return;
    clear(tooltip);
    append(tooltip, el('b', {}, n.title));
    tooltip.classList.add('hw-visible');
  });
  cy.on('mousemove', (event) => {
    const p = event.renderedPosition;
    if (p) tooltip.style.transform = `translate(${Math.round(p.x + 14)}px, ${Math.round(p.y + 14)}px)`;
  });
  cy.on('mouseout', 'edge, node', () => tooltip.classList.remove('hw-visible'));
  graphBox.addEventListener('mouseleave', () => tooltip.classList.remove('hw-visible'));
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') select(null);
  });
  applyFilters();
  renderPanel();
  window.hivewall = { data, cy, select, visible };
  document.body.dataset.ready = 'true';
}

// ---- static parts

function header(data: ReportData): HTMLElement {
  const s = data.summary;
  const denied = s.byStatus['would-deny'];
  const sub: string[] = [];
  if (data.source) sub.push(data.source);
  if (data.window) sub.push(`${time(data.window.first)} → ${time(data.window.last)}`);
  const stat = (key: string, label: string, value: number | undefined, note?: string, tone?: 'warn' | 'bad') =>
    el('div', { class: `hw-stat${tone ? ` hw-${tone}` : ''}`, 'data-stat': key },
      el('div', { class: 'hw-stat-value' }, value === undefined ? '—' : number(value)),
      el('div', { class: 'hw-stat-label' }, label),
      note ? el('div', { class: 'hw-stat-note' }, note) : null);
  return el(
    'header',
    { class: 'hw-header' },
    el('div', { class: 'hw-titles' },
      el('div', { class: 'hw-brand' }, el('span', { class: 'hw-logo', 'aria-hidden': 'true' }, '⬡'), 'hivewall'),
      el('h1', {}, data.title),
      el('div', { class: 'hw-sub' }, sub.join(' · '))),
    el('div', { class: 'hw-stats' },
      stat('workloads', 'Workloads', s.workloads, `${data.namespaces.filter((n) => n.workloads > 0).length} namespaces`),
      stat('entities', 'Entities', s.entities, 'outside the pods'),
      stat('edges', 'Edges', s.edges, [
        `${number(s.byStatus.proposed)} proposed`,
        s.byStatus.enforced > 0 ? `${number(s.byStatus.enforced)} enforced` : '',
        denied > 0 ? `${number(denied)} would deny` : '',
      ].filter(Boolean).join(' · ')),
      stat('policies', 'Policies', s.policies, data.policyKind),
      stat('flows', 'Flows', s.flows, s.connections !== undefined ? `${number(s.connections)} connections` : undefined),
      stat('lost', 'Lost events', s.lostEvents, s.lostEvents ? 'may be incomplete' : 'none reported', s.lostEvents ? 'warn' : undefined),
      stat('would-deny', 'Would deny', denied, denied > 0 ? [s.denied ? `${number(s.denied)} denied while enforced` : 'observed edges', data.rollbacks ? `${data.rollbacks.length} rolled back` : ''].filter(Boolean).join(' · ') : 'none', denied > 0 ? 'bad' : undefined),
      data.coverage !== undefined ? stat('coverage', 'Coverage gaps', data.coverage.length, 'not seen by the window', 'warn') : null),
  );
}

function legend(data: ReportData): HTMLElement {
  const entities = [...new Set(data.nodes.flatMap((n) => (n.entity !== undefined ? [n.entity] : [])))].sort();
  const item = (...children: Child[]) => el('span', { class: 'hw-legend-item' }, ...children);
  return el('div', { class: 'hw-legend', 'aria-label': 'Legend' },
    el('span', { class: 'hw-legend-title' }, 'Edges'),
    ...EDGE_STATUSES.map((status) => el('span', { class: 'hw-legend-item', 'data-status': status, title: STATUS_STYLE[status].description }, swatchLine(status), STATUS_STYLE[status].label)),
    el('span', { class: 'hw-legend-note' }, 'width: flows'),
    el('span', { class: 'hw-legend-sep' }),
    el('span', { class: 'hw-legend-title' }, 'Nodes'),
    item(...data.namespaces.filter((ns) => ns.workloads > 0).slice(0, 3).map((ns) => el('span', { class: 'hw-dot', 'data-color': ns.color })), 'workload, by namespace'),
    ...entities.map((name) => {
      const style = ENTITY_STYLE[name] ?? FALLBACK_ENTITY;
      return item(el('span', { class: 'hw-glyph', 'data-color': style.color }, style.glyph), style.label);
    }),
    data.nodes.some((n) => n.skipped !== undefined)
      ? item(el('span', { class: 'hw-dot hw-dot-nopolicy', 'data-color': '#ffffff' }), 'no policy')
      : null,
    data.namespaces.some((ns) => !ns.inScope && ns.workloads > 0) ? item(el('span', { class: 'hw-box-out' }), 'namespace not in scope') : null,
  );
}

function swatchLine(status: EdgeStatus): HTMLElement {
  return el('span', { class: `hw-line hw-line-${STATUS_STYLE[status].line}`, 'data-color': STATUS_STYLE[status].color, 'aria-hidden': 'true' });
}

function badge(text: string, color: string, cls: string): HTMLElement {
  return el('span', { class: `hw-badge ${cls}`, 'data-color': color }, text);
}

function section(title: string, body: Child): HTMLElement {
  return el('section', { class: 'hw-section' }, el('h3', {}, title), body);
}

function dl(rows: readonly (readonly [string, Child])[]): HTMLElement {
  return el('dl', { class: 'hw-dl' }, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function fail(error: unknown): void {
  const app = document.getElementById('app');
  const message = error instanceof Error ? error.message : String(error);
  if (app) append(app, el('p', { class: 'hw-error' }, `The report could not be drawn: ${message}`));
  throw error;
}

function boot(): void {
  try {
    start();
  } catch (error) {
    fail(error);
  }
}

// The script sits at the end of <body>, so the document is parsed; wait anyway if it is not.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
