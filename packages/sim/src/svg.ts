/** Small dependency-free SVG charts for the reports. */

const W = 640;
const H = 220;
const PAD = { l: 56, r: 12, t: 24, b: 32 };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (v: number) =>
  Math.abs(v) >= 1e6
    ? `${(v / 1e6).toFixed(1)}M`
    : Math.abs(v) >= 1e3
      ? `${(v / 1e3).toFixed(1)}k`
      : v < 1 && v > 0
        ? v.toFixed(3)
        : v.toFixed(0);

/** A line chart of `ys` over `xs` (x in minutes). */
export function lineChart(title: string, xs: number[], ys: number[], yLabel: string): string {
  const maxX = Math.max(1, ...xs);
  const maxY = Math.max(1e-9, ...ys);
  const px = (x: number) => PAD.l + (x / maxX) * (W - PAD.l - PAD.r);
  const py = (y: number) => H - PAD.b - (y / maxY) * (H - PAD.t - PAD.b);
  const pts = xs.map((x, i) => `${px(x).toFixed(1)},${py(ys[i] ?? 0).toFixed(1)}`).join(" ");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${PAD.l}" y="14" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${PAD.l}" y1="${H - PAD.b}" x2="${W - PAD.r}" y2="${H - PAD.b}" stroke="#888"/>`,
    `<line x1="${PAD.l}" y1="${PAD.t}" x2="${PAD.l}" y2="${H - PAD.b}" stroke="#888"/>`,
    `<text x="${PAD.l - 4}" y="${PAD.t + 4}" text-anchor="end">${fmt(maxY)}</text>`,
    `<text x="${PAD.l - 4}" y="${H - PAD.b}" text-anchor="end">0</text>`,
    `<text x="${W - PAD.r}" y="${H - 8}" text-anchor="end">${fmt(maxX)} min</text>`,
    `<text x="4" y="${H / 2}" transform="rotate(-90 10 ${H / 2})">${esc(yLabel)}</text>`,
    `<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="${pts}"/>`,
    "</svg>",
  ].join("\n");
}

/** Horizontal bars, values in [0, 1] shown as percentages. */
export function shareBars(
  title: string,
  bars: Array<{ label: string; value: number; color?: string }>,
): string {
  const h = PAD.t + bars.length * 26 + 8;
  const x0 = 220;
  const span = W - x0 - 60;
  const rows = bars.map((b, i) => {
    const y = PAD.t + i * 26;
    const w = Math.max(0, Math.min(1, b.value)) * span;
    return [
      `<text x="${x0 - 6}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${x0}" y="${y + 3}" width="${w.toFixed(1)}" height="16" fill="${b.color ?? "#2563eb"}"/>`,
      `<text x="${(x0 + w + 4).toFixed(1)}" y="${y + 15}">${(b.value * 100).toFixed(2)}%</text>`,
    ].join("");
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
    `<text x="8" y="14" font-weight="bold">${esc(title)}</text>`,
    ...rows,
    "</svg>",
  ].join("\n");
}
