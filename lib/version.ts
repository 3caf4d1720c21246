/** podperf's version, stored in every Parquet file and printed by `--version`. */
export const VERSION = "0.1.0";
