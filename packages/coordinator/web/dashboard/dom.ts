// Small DOM helpers for the dashboard: text only (never innerHTML), so no API string becomes markup.

export function $<T extends Element = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`dashboard: no #${id}`);
  return e as unknown as T;
}

export function el(tag: string, text?: string | number, cls?: string): HTMLElement {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

/** A table row: a Node goes into its cell as is, anything else as text. */
export function row(cells: readonly (Node | string | number)[]): HTMLTableRowElement {
  const tr = document.createElement("tr");
  for (const c of cells) {
    if (c instanceof Node) {
      const td = document.createElement("td");
      td.appendChild(c);
      tr.appendChild(td);
    } else tr.appendChild(el("td", c));
  }
  return tr;
}

/** A horizontal bar filled to `fraction` (clamped to [0, 1]). */
export function bar(fraction: number, title?: string): HTMLElement {
  const b = el("div", undefined, "bar");
  const fill = el("span");
  fill.style.width = `${(Math.min(1, Math.max(0, fraction)) * 100).toFixed(1)}%`;
  b.appendChild(fill);
  if (title) b.title = title;
  return b;
}

const MB = 1e6;
export const short = (a: string) => `${a.slice(0, 8)}…${a.slice(-4)}`;
export const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
export const pct = (x: number) => `${Math.round(x * 100)} %`;

/** Token base units (18 decimals, as a decimal string) to tokens with 4 decimals. */
export function tokens(wei: string): string {
  const s = BigInt(wei).toString().padStart(19, "0");
  return `${s.slice(0, -18)}.${s.slice(-18, -14)}`.replace(/^0+(?=\d)/, "");
}
