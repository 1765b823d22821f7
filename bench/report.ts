/** Human-readable output: the markdown table (stdout, latest.md, docs) and an SVG latency plot. */
import type { BenchResult, PathResult, PhaseMedian } from './summary';

const us = (v: number | undefined): string => (v === undefined ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(1)} ms` : `${Math.round(v)} µs`);
const num = (v: number | undefined, digits = 0): string => (v === undefined ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const mb = (b: number | undefined): string => (b === undefined ? '–' : `${(b / (1024 * 1024)).toFixed(1)} MB`);

function phase(p: PathResult, name: string): PhaseMedian | undefined {
  return p.median?.find((m) => m.phase === name);
}

function roles(rec: Record<string, number> | undefined, fmt: (v: number) => string): string {
  if (!rec || Object.keys(rec).length === 0) return '–';
  return Object.entries(rec)
    .map(([role, v]) => (role === 'proxy' ? fmt(v) : `${role[0]}: ${fmt(v)}`))
    .join(', ');
}

/** The whole report as markdown. */
export function renderMarkdown(r: BenchResult): string {
  const lines: string[] = [];
  const o = r.options;
  lines.push(`Runs: ${o.runs} (medians), ${o.durationS} s per phase, warm-up ${o.warmupS} s, wrk -t1 -c${o.connections}` + `${o.pinned ? ', wrk on CPU 0, servers on CPU 1' : ', unpinned'}.`);
  if (o.sidecarNodeFlags.length > 0) lines.push(`Sidecar Node flags: \`${o.sidecarNodeFlags.join(' ')}\`.`);
  const env = Object.entries(o.sidecarEnv ?? {});
  if (env.length > 0) lines.push(`Sidecar environment: \`${env.map(([k, v]) => `${k}=${v}`).join(' ')}\`.`);
  lines.push(`Machine: ${r.machine.cpus} × ${r.machine.cpuModel}; Node ${r.machine.node}; ${r.machine.nginx ?? 'nginx ?'}; load average before ${r.machine.loadBefore.join(' ')}, after ${r.machine.loadAfter.join(' ')}.`);
  // The bench itself keeps up to ~4 processes runnable (wrk and a path's servers).
  const busy = (r.machine.loadBefore[0] ?? 0) > r.machine.cpus / 2 || (r.machine.loadAfter[0] ?? 0) > r.machine.cpus + 2;
  if (busy) {
    lines.push('');
    lines.push(`**The machine was busy** (other work was running besides the bench on its ${r.machine.cpus} cores): tail latencies (p90, p99) mostly measure scheduling delays; compare throughput, CPU and p50 ratios.`);
  }
  lines.push('');
  const rateCols = o.rates.map((rate) => `p50 / p90 / p99 @ ${num(rate)}/s`);
  lines.push(`| path | max req/s | ${rateCols.join(' | ')} | CPU s per 1k req (sat / @${num(o.rates[0])}) | peak RSS (anon at end) | errors |`);
  lines.push(`|---|---:|${o.rates.map(() => '---:').join('|')}|---:|---:|---:|`);
  for (const p of r.paths) {
    if (p.skipped !== undefined) {
      lines.push(`| ${p.label} | skipped: ${p.skipped.replace(/\|/g, '/')} |${o.rates.map(() => '').join(' |')} | | | |`);
      continue;
    }
    const sat = phase(p, 'saturation');
    const cells = o.rates.map((rate) => {
      const m = phase(p, `rate-${rate}`);
      return m ? `${us(m.p50Us)} / ${us(m.p90Us)} / ${us(m.p99Us)}` : '–';
    });
    const lowRate = phase(p, `rate-${o.rates[0]}`);
    const cpu = p.kind === 'direct' ? '–' : `${roles(sat?.cpuSecondsPer1k, (v) => v.toFixed(3))} / ${roles(lowRate?.cpuSecondsPer1k, (v) => v.toFixed(3))}`;
    const rss = p.kind === 'direct' ? '–' : `${roles(p.peakRssBytes, (v) => mb(v))} (${roles(p.anonRssBytes, (v) => mb(v))})`;
    const errors = (p.median ?? []).reduce((n, m) => n + m.errors, 0);
    lines.push(`| ${p.label} | ${num(sat?.rps)} | ${cells.join(' | ')} | ${cpu} | ${rss} | ${errors} |`);
  }
  lines.push('');
  lines.push('o: outbound sidecar, i: inbound sidecar. CPU s per 1,000 requests equals vCPU per 1,000 req/s.');
  lines.push('Peak RSS is VmHWM; "anon" leaves out file-backed pages (the mapped nginx or node binary, shared between processes).');
  if (r.ratios.length > 0) {
    lines.push('');
    lines.push('| ratio (median of per-run ratios) | value | per run |');
    lines.push('|---|---:|---|');
    for (const x of r.ratios) lines.push(`| ${x.description} | ${x.value === undefined ? '–' : x.value.toFixed(2)} | ${x.perRun.map((v) => (v === null ? '–' : v.toFixed(2))).join(', ')} |`);
  }
  lines.push('');
  lines.push('| target | goal | Weft | met |');
  lines.push('|---|---|---:|---|');
  for (const t of r.targets) {
    lines.push(`| ${t.description} | ${t.target} ${t.unit} | ${t.actual === undefined ? '–' : t.actual.toFixed(t.unit === 'MB' ? 1 : 3)} | ${t.met === undefined ? 'not measured' : t.met ? 'yes' : '**no**'} |`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Latency at each fixed rate: one panel per rate, one row per path, a bar from p50 to p99 with
 * ticks at p50, p90 and p99, on a log scale so direct and two-hop paths fit together.
 */
export function renderLatencySvg(r: BenchResult): string {
  const paths = r.paths.filter((p) => p.skipped === undefined && p.median);
  const rowH = 22;
  const left = 230;
  const width = 760;
  const plotW = width - left - 30;
  const panelH = paths.length * rowH + 50;
  const height = r.options.rates.length * panelH + 20;
  const values = paths.flatMap((p) => r.options.rates.flatMap((rate) => {
    const m = phase(p, `rate-${rate}`);
    return m ? [m.p50Us, m.p99Us] : [];
  })).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values, 100))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 1000))));
  const x = (v: number): number => left + (plotW * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const colors = ['#555', '#1f77b4', '#aec7e8', '#d62728', '#ff9896', '#2ca02c', '#98df8a'];
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  r.options.rates.forEach((rate, pi) => {
    const top = 10 + pi * panelH;
    out.push(`<text x="10" y="${top + 14}" font-weight="bold">Latency at ${rate} req/s (p50 – p90 – p99, log scale)</text>`);
    for (let d = lo; d <= hi; d *= 10) {
      const gx = x(d).toFixed(1);
      out.push(`<line x1="${gx}" y1="${top + 22}" x2="${gx}" y2="${top + 26 + paths.length * rowH}" stroke="#ddd"/>`);
      out.push(`<text x="${gx}" y="${top + 40 + paths.length * rowH}" text-anchor="middle" fill="#666">${d >= 1000 ? `${d / 1000} ms` : `${d} µs`}</text>`);
    }
    paths.forEach((p, i) => {
      const m = phase(p, `rate-${rate}`);
      const y = top + 36 + i * rowH;
      out.push(`<text x="${left - 8}" y="${y + 4}" text-anchor="end">${esc(p.label)}</text>`);
      if (!m) return;
      const c = colors[i % colors.length];
      out.push(`<g><title>${esc(p.label)}: p50 ${m.p50Us} µs, p90 ${m.p90Us} µs, p99 ${m.p99Us} µs</title>`);
      out.push(`<line x1="${x(m.p50Us).toFixed(1)}" y1="${y}" x2="${x(m.p99Us).toFixed(1)}" y2="${y}" stroke="${c}" stroke-width="8" stroke-opacity="0.5"/>`);
      for (const v of [m.p50Us, m.p90Us, m.p99Us]) out.push(`<line x1="${x(v).toFixed(1)}" y1="${y - 7}" x2="${x(v).toFixed(1)}" y2="${y + 7}" stroke="${c}" stroke-width="2"/>`);
      out.push('</g>');
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
