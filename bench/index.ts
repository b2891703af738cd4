// Load drivers, measurement and the raw JetStream baseline: the public surface of bench/.
export { runRawBaseline, type RateFigure, type RawBaselineOptions, type RawBaselineResult } from './raw-baseline.js';
