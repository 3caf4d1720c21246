import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
console.log(typeof S3Client, typeof PutObjectCommand);
