/** Entry point whose bundle and npm closure measure one S3 client's weight (bench/upload_bench.ts). */
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
console.log(typeof S3Client, typeof PutObjectCommand);
