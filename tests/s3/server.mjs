// An S3-compatible server for the photo tests: s3rver keeping its buckets in S3_DIR, on
// 127.0.0.1:S3_PORT, with the bucket S3_BUCKET made at start. Prints "ready <endpoint>" once
// it listens. Credentials are s3rver's fixed pair (S3RVER / S3RVER).
import S3rver from "s3rver";

const port = Number(process.env.S3_PORT ?? 4568);
const directory = process.env.S3_DIR ?? "./s3-data";
const bucket = process.env.S3_BUCKET ?? "otop-photos";

const server = new S3rver({
  address: "127.0.0.1",
  port,
  directory,
  silent: true,
  configureBuckets: [{ name: bucket }],
});

const { address, port: listening } = await server.run();
console.log(`ready http://${address}:${listening}`);
