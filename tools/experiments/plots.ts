/**
 * Vega-Lite specifications of the figures, shaped like the paper's (Fatriot section 5):
 * RTT per packet number with the fault window shaded (Figs. 10 and 11), bars for the
 * overhead comparison (Fig. 9) and lines over frame size for the relay (Fig. 12).
 * common.ts renders them to SVG.
 */
import { PLOT_CONFIG, type PlotSpec } from './common.ts';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

export interface SeriesPoint {
  pkt: number;
  run: string;
  /** null: no reply (a gap in the line). */
  value: number | null;
}

export interface Marker {
  pkt: number;
  label: string;
  /** Colour of the rule. */
  colour?: string;
}

export interface PacketSeriesPlot {
  title: string;
  yTitle: string;
  points: SeriesPoint[];
  /** Run names in legend order, with their colours. */
  runs: { name: string; colour: string }[];
  /** Shaded fault window [from, to) in packet numbers; `to` may be the last packet + 1. */
  fault?: { from: number; to: number; label: string };
  markers?: Marker[];
  width?: number;
  height?: number;
}

/** Layers of a per-packet series with a shaded fault window and labelled rules. */
function packetSeriesLayers(p: PacketSeriesPlot, height: number): PlotSpec[] {
  const layers: PlotSpec[] = [];
  if (p.fault !== undefined) {
    layers.push({
      data: { values: [p.fault] },
      mark: { type: 'rect', color: '#d62728', opacity: 0.1 },
      encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } },
    });
    layers.push({
      data: { values: [p.fault] },
      mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, color: '#d62728', fontSize: 11 },
      encoding: { x: { field: 'from', type: 'quantitative' }, y: { value: height - 4 }, text: { field: 'label' } },
    });
  }
  (p.markers ?? []).forEach((m, i) => {
    const colour = m.colour ?? '#555555';
    layers.push({
      data: { values: [m] },
      mark: { type: 'rule', strokeDash: [5, 3], strokeWidth: 1.5, color: colour },
      encoding: { x: { field: 'pkt', type: 'quantitative' } },
    });
    layers.push({
      data: { values: [m] },
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, fontSize: 10, color: colour },
      encoding: { x: { field: 'pkt', type: 'quantitative' }, y: { value: 18 + 13 * i }, text: { field: 'label' } },
    });
  });
  layers.push({
    data: { values: p.points },
    mark: { type: 'line', point: { size: 18 }, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'pkt', type: 'quantitative', title: 'packet number', scale: { nice: false } },
      y: { field: 'value', type: 'quantitative', title: p.yTitle },
      color: {
        field: 'run',
        type: 'nominal',
        title: null,
        scale: { domain: p.runs.map((r) => r.name), range: p.runs.map((r) => r.colour) },
      },
    },
  });
  return layers;
}

/** RTT (or any per-packet value) over packet number: Figs. 10(a), 10(b), 11. */
export function packetSeriesSpec(p: PacketSeriesPlot): PlotSpec {
  return {
    $schema: SCHEMA,
    title: p.title,
    width: p.width ?? 640,
    height: p.height ?? 300,
    config: PLOT_CONFIG,
    layer: packetSeriesLayers(p, p.height ?? 300),
  };
}

/** Several per-packet panels, one above the other (Fig. 11: delivered rate and RTT). */
export function stackedPacketSeriesSpec(title: string, panels: PacketSeriesPlot[]): PlotSpec {
  return {
    $schema: SCHEMA,
    title,
    config: PLOT_CONFIG,
    vconcat: panels.map((p) => ({
      title: p.title,
      width: p.width ?? 640,
      height: p.height ?? 220,
      layer: packetSeriesLayers(p, p.height ?? 220),
    })),
  };
}

export interface BarRow {
  group: string;
  series: string;
  value: number;
}

export interface BarPanel {
  title: string;
  yTitle: string;
  rows: BarRow[];
  seriesOrder: { name: string; colour: string }[];
  /** Groups along x in this order; default the order of first appearance in `rows`. */
  groupOrder?: string[];
}

/** Grouped bars, one panel a metric side by side (Fig. 9: throughput and latency, reference NIC vs Fatriot). */
export function groupedBarsSpec(title: string, panels: BarPanel[]): PlotSpec {
  return {
    $schema: SCHEMA,
    title,
    config: PLOT_CONFIG,
    hconcat: panels.map((p) => ({
      title: p.title,
      width: 260,
      height: 260,
      data: { values: p.rows },
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            x: { field: 'group', type: 'nominal', title: null, axis: { labelAngle: 0 }, sort: p.groupOrder ?? [...new Set(p.rows.map((r) => r.group))] },
            xOffset: { field: 'series', type: 'nominal', sort: p.seriesOrder.map((s) => s.name) },
            y: { field: 'value', type: 'quantitative', title: p.yTitle },
            color: {
              field: 'series',
              type: 'nominal',
              title: null,
              scale: { domain: p.seriesOrder.map((s) => s.name), range: p.seriesOrder.map((s) => s.colour) },
            },
          },
        },
        {
          mark: { type: 'text', dy: -4, fontSize: 9, baseline: 'bottom' },
          encoding: {
            x: { field: 'group', type: 'nominal', sort: p.groupOrder ?? [...new Set(p.rows.map((r) => r.group))] },
            xOffset: { field: 'series', type: 'nominal', sort: p.seriesOrder.map((s) => s.name) },
            y: { field: 'value', type: 'quantitative' },
            text: { field: 'value', type: 'quantitative', format: '.3~f' },
          },
        },
      ],
    })),
    resolve: { scale: { color: 'shared' } },
  };
}

export interface LineRow {
  x: number;
  series: string;
  value: number;
}

export interface LinePanel {
  title: string;
  xTitle: string;
  yTitle: string;
  rows: LineRow[];
  /** Series in legend order; `dash` and `width` tell lines apart where they lie on top of each other. */
  seriesOrder: { name: string; colour: string; dash?: number[]; width?: number }[];
  /** Draw this constant as a dashed reference line (e.g. 10G line rate). */
  reference?: { value: number; label: string };
}

/** Lines over a numeric x (Fig. 12: throughput and latency over frame size, relayed vs direct). */
export function linesSpec(title: string, panels: LinePanel[]): PlotSpec {
  return {
    $schema: SCHEMA,
    title,
    config: PLOT_CONFIG,
    hconcat: panels.map((p) => {
      const layers: PlotSpec[] = [];
      if (p.reference !== undefined) {
        layers.push({
          data: { values: [p.reference] },
          mark: { type: 'rule', strokeDash: [5, 3], color: '#888888' },
          encoding: { y: { field: 'value', type: 'quantitative' } },
        });
        layers.push({
          data: { values: [p.reference] },
          mark: { type: 'text', align: 'left', baseline: 'bottom', dy: -2, x: 4, color: '#666666', fontSize: 10 },
          encoding: { y: { field: 'value', type: 'quantitative' }, text: { field: 'label' } },
        });
      }
      // One layer a series, so lines lying on top of each other differ in width and dash;
      // the colour scale is shared and makes the legend.
      const colour = {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: p.seriesOrder.map((s) => s.name), range: p.seriesOrder.map((s) => s.colour) },
      };
      for (const s of p.seriesOrder) {
        layers.push({
          data: { values: p.rows },
          transform: [{ filter: { field: 'series', equal: s.name } }],
          mark: { type: 'line', point: true, strokeDash: s.dash ?? [1, 0], strokeWidth: s.width ?? 2 },
          encoding: {
            x: { field: 'x', type: 'quantitative', title: p.xTitle },
            y: { field: 'value', type: 'quantitative', title: p.yTitle },
            color: colour,
          },
        });
      }
      return { title: p.title, width: 320, height: 260, layer: layers };
    }),
    resolve: { scale: { color: 'independent' } },
  };
}
