/** Per-pod Prometheus series (`/metrics` of `collect --listen`). */
export {
  type ContainerLiveness,
  type CounterAvailability,
  DEFAULT_IDLE_MS,
  DEFAULT_MAX_SERIES,
  POD_FAMILIES,
  PodSeries,
  type PodSeriesOptions,
  type PodSeriesStats,
} from "./pod_series.ts";
export { escapeLabelValue, familyHeader, formatValue, labelSet } from "./exposition.ts";
