// The peer of `./infra/bench.sh tus`: @tus/server with @tus/s3-store, as their READMEs set them
// up, on 127.0.0.1 (a free port), path /files, S3 at --endpoint (moto, or the counting proxy in
// front of it) in --bucket with path-style addressing and moto's test credentials, parts of
// --part-size bytes. Prints one JSON line {"url": …} once listening; exits when its stdin closes
// (the bench ended, however it ended) or on SIGTERM.
//
//   node peer-server.mjs --endpoint http://127.0.0.1:PORT --bucket NAME --part-size BYTES

import { parseArgs } from 'node:util';
import { Server } from '@tus/server';
import { S3Store } from '@tus/s3-store';

const { values } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    bucket: { type: 'string' },
    'part-size': { type: 'string' },
  },
});
const partSize = Number(values['part-size']);
if (!values.endpoint || !values.bucket || !(partSize >= 5 * 1024 * 1024)) {
  console.error('usage: peer-server.mjs --endpoint URL --bucket NAME --part-size BYTES (≥ 5 MiB)');
  process.exit(2);
}

const datastore = new S3Store({
  partSize,
  s3ClientConfig: {
    bucket: values.bucket,
    region: process.env.AWS_REGION ?? 'us-east-1',
    endpoint: values.endpoint,
    forcePathStyle: true,
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'test',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    },
  },
});
const tus = new Server({ path: '/files', datastore });
const http = tus.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${http.address().port}` }));
});
http.requestTimeout = 0;

const stop = () => {
  http.closeAllConnections();
  http.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
