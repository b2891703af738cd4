// Static SVG charts for the report pages: strings in, strings out, no DOM and no dependency. The
// chart libraries that render in Node either want a DOM (d3, Chart.js via canvas) or ship far more
// than three chart shapes need; a report page must also stay free of scripts and requests, so the
// charts are written here, small enough to test in full.
export { escapeXml } from './escape.js';
export {
  niceStep,
  niceTicks,
  linearScale,
  percentileToAxis,
  percentileTicks,
  formatTick,
  type Ticks,
} from './scale.js';
export { PALETTE, FAULT_COLOUR, type ChartText } from './frame.js';
export { lineChart, type LineChartOptions, type LineSeries, type Band } from './line-chart.js';
export { barChart, type BarChartOptions, type Bar } from './bar-chart.js';
export { timeline, type TimelineOptions, type TimelineRow, type Segment, type SegmentKind } from './timeline.js';
