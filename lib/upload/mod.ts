/** Shipping completed files to S3-compatible storage, and the S3 client the readers share. */
export {
  type CredentialProvider,
  CredentialsError,
  parseWebIdentityResponse,
  providerFromEnv,
  staticProvider,
  webIdentityProvider,
  webIdentityRequest,
} from "./credentials.ts";
export { objectKey, openedAtFromName } from "./layout.ts";
export {
  clientFromEnv,
  isS3Url,
  parseS3Url,
  S3Client,
  S3Error,
  type S3Location,
  S3NetworkError,
  S3UrlError,
} from "./s3_client.ts";
export { type AwsCredentials, signRequest } from "./sigv4.ts";
export { Uploader, type UploaderOptions, type UploadStats, UploadVerifyError } from "./uploader.ts";
export { uploaderFor } from "./from_cli.ts";
