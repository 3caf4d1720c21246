/** Entry point whose bundle and npm closure measure one S3 client's weight (bench/upload_bench.ts). */
import { S3Client } from "../../lib/upload/s3_client.ts";
console.log(typeof S3Client);
