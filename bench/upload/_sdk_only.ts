import { S3Client, PutObjectCommand } from "@aws-sdk/client-s3";
console.log(typeof S3Client, typeof PutObjectCommand);
