/**
 * podperf's public API: run a collection, read files back, summarize, and the building blocks
 * (sampler, aggregator, NRI plugin, metadata store and fallbacks, Parquet writer).
 *
 * @example
 * import { collect, summarize } from "./mod.ts";
 * const r = await collect({ outputDir: "out", durationMs: 5000, nriSocket: null, node: "n1" });
 * console.log(summarize(r.totals, { by: "process", cpus: r.cpus }));
 */
export {
  collect,
  type CollectOptions,
  type CollectResult,
  describeCounters,
} from "./lib/collect/collector.ts";
export { type JoinCoverage, type MetaLookup, SlotJoiner } from "./lib/collect/join.ts";
export {
  BpfLoadError,
  BtfMissingError,
  type CounterSource,
  LibbpfMissingError,
  measureMonoToWallOffsetNs,
  monoNowNs,
  NotRootError,
  Sampler,
  type SamplerOptions,
} from "./lib/sampler/mod.ts";
export { SlotAggregator, type SlotRow } from "./lib/aggregate/mod.ts";
export { DEFAULT_NRI_SOCKET, type NriPluginHandle, startNriPlugin } from "./lib/nri/mod.ts";
export {
  CgroupPathIndex,
  MetadataResolver,
  MetadataStore,
  OciBundleWatcher,
  parseCgroupPath,
  type PodMeta,
} from "./lib/metadata/mod.ts";
export {
  type OutputRow,
  OutputWriteError,
  ParquetSink,
  RotatingParquetWriter,
} from "./lib/output/mod.ts";
export { PodSeries, type PodSeriesOptions } from "./lib/metrics/mod.ts";
export {
  readPodperfFile,
  readRowsFromParquet,
  summarize,
  type SummaryRow,
} from "./lib/report/mod.ts";
export { VERSION } from "./lib/version.ts";
export {
  clientFromEnv,
  parseS3Url,
  S3Client,
  S3Error,
  Uploader,
  type UploaderOptions,
  type UploadStats,
} from "./lib/upload/mod.ts";
