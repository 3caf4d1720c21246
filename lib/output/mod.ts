/** Parquet output: the row contract, a crash-safe file writer, rotation, and the writer Worker. */
export {
  type CounterInfo,
  type Coverage,
  type FileConfig,
  fileMetadata,
  type MetaSource,
  type OutputRow,
  outputRow,
  PARQUET_SCHEMA,
  type PodColumns,
  type SlotColumns,
} from "./schema.ts";
export {
  type ClosedFileInfo,
  DEFAULT_ROW_GROUP_BYTES,
  DEFAULT_ROW_GROUP_ROWS,
  type ParquetFileOptions,
  ParquetFileWriter,
  tmpPathFor,
} from "./parquet_writer.ts";
export { fileName, type RotatingOptions, RotatingParquetWriter } from "./rotation.ts";
export { OutputClosedError, OutputConfigError, OutputWriteError } from "./errors.ts";
export {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_ROWS,
  type HeapBytes,
  ParquetSink,
  type ParquetSinkOptions,
  type ParquetSinkStats,
} from "./parquet_sink.ts";
export {
  HARD_LIMIT_FACTOR,
  Retention,
  type RetentionOptions,
  type RetentionStats,
} from "./retention.ts";
