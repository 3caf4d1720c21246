import { S3Client } from "../../lib/upload/s3_client.ts";
console.log(typeof S3Client);
