// The dashboard's two charts, drawn as SVG from numbers (no chart library).
const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag: string, attrs: Record<string, string>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** A line through `values` scaled to `max`, in a 600×120 view box, labelled with the max. */
export function drawLine(svg: SVGSVGElement, values: readonly number[], max: number): void {
  const w = 600;
  const h = 120;
  const n = values.length;
  const top = Math.max(max, 1e-9);
  const pts = values.map(
    (v, i) => `${(n === 1 ? 0 : (i / (n - 1)) * w).toFixed(1)},${(h - (v / top) * (h - 10)).toFixed(1)}`,
  );
  const line = svgEl("polyline", {
    points: pts.join(" "),
    fill: "none",
    stroke: "#58a6ff",
    "stroke-width": "2",
  });
  const label = svgEl("text", { x: "4", y: "14", fill: "#9aa0a6", "font-size": "11" });
  label.textContent = `max ${top.toFixed(2)}`;
  svg.replaceChildren(line, label);
}

/** One bar per value, in a 300×120 view box. */
export function drawBars(svg: SVGSVGElement, values: readonly number[]): void {
  const w = 300;
  const h = 120;
  const n = Math.max(values.length, 1);
  const max = Math.max(...values, 1e-9);
  const bars = values.map((v, i) => {
    const bh = (v / max) * (h - 10);
    return svgEl("rect", {
      x: ((i * w) / n + 1).toFixed(1),
      width: Math.max(1, w / n - 2).toFixed(1),
      y: (h - bh).toFixed(1),
      height: bh.toFixed(1),
      fill: "#3fb950",
    });
  });
  svg.replaceChildren(...bars);
}
