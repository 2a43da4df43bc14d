/**
 * A tiny DOM builder. Text always goes in as text nodes and attributes through `setAttribute`
 * on a fixed list, so report data (workload names, DNS names, reasons) can never become markup.
 */
export type Child = Node | string | number | null | undefined | false;

export interface Attributes {
  readonly class?: string;
  readonly id?: string;
  readonly title?: string;
  readonly type?: string;
  readonly role?: string;
  readonly placeholder?: string;
  readonly tabindex?: string;
  readonly [attribute: `data-${string}` | `aria-${string}`]: string | undefined;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) element.setAttribute(name, String(value));
  }
  // Colours go through the CSSOM as a custom property (the page's CSP allows no inline style markup).
  if (attributes['data-color'] !== undefined) element.style.setProperty('--c', attributes['data-color']);
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function clear(element: Element): void {
  while (element.firstChild) element.removeChild(element.firstChild);
}

export function button(label: Child | readonly Child[], onClick: () => void, attributes: Attributes = {}): HTMLButtonElement {
  const b = el('button', { type: 'button', ...attributes }, ...(Array.isArray(label) ? label : [label as Child]));
  b.addEventListener('click', onClick);
  return b;
}

export const number = (n: number): string => n.toLocaleString('en-US');

/** `2026-11-02T10:00:34.124Z` → `2026-11-02 10:00:34 UTC`. */
export function time(text: string | undefined): string {
  if (!text) return '—';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(text);
  return m ? `${m[1]} ${m[2]} UTC` : text;
}
