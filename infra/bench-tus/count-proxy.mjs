// A counting reverse proxy in front of moto, for `./infra/bench.sh tus`: every request is passed
// through unchanged (bar `Expect: 100-continue`, which this proxy answers itself) and counted by
// service and operation: DynamoDB by its `X-Amz-Target`, S3 by method, path depth and the query
// that names the operation (`?uploads`, `?uploadId`, `?partNumber`, …). Bytes are counted as
// they pass, request bodies (to AWS) and response bodies (from AWS), and answers ≥ 300 apart.
// Only the untimed counting rounds go through it; the timed rounds talk to moto directly.

import http from 'node:http';

/** The operation a request to moto is: ['dynamodb' | 's3', name]. */
export function classify(req) {
  const target = req.headers['x-amz-target'];
  if (target) return ['dynamodb', String(target).split('.').pop()];
  const url = new URL(req.url, 'http://proxy');
  const q = url.searchParams;
  const depth = url.pathname.split('/').filter(Boolean).length;
  const m = req.method;
  const copy = 'x-amz-copy-source' in req.headers;
  let op;
  if (depth <= 1) {
    if (m === 'PUT') op = 'CreateBucket';
    else if (m === 'HEAD') op = 'HeadBucket';
    else if (m === 'POST' && q.has('delete')) op = 'DeleteObjects';
    else if (m === 'GET' && q.has('uploads')) op = 'ListMultipartUploads';
    else if (m === 'GET') op = q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    else if (m === 'DELETE') op = 'DeleteBucket';
    else op = `${m} bucket`;
  } else if (m === 'POST' && q.has('uploads')) op = 'CreateMultipartUpload';
  else if (q.has('uploadId')) {
    op = { PUT: copy ? 'UploadPartCopy' : 'UploadPart', POST: 'CompleteMultipartUpload',
      GET: 'ListParts', DELETE: 'AbortMultipartUpload' }[m] ?? `${m} ?uploadId`;
  } else if (q.has('tagging')) {
    op = { PUT: 'PutObjectTagging', GET: 'GetObjectTagging', DELETE: 'DeleteObjectTagging' }[m];
  } else if (m === 'PUT') op = copy ? 'CopyObject' : 'PutObject';
  else if (m === 'GET') op = req.headers.range ? 'GetObject (range)' : 'GetObject';
  else if (m === 'HEAD') op = 'HeadObject';
  else if (m === 'DELETE') op = 'DeleteObject';
  else op = `${m} object`;
  return ['s3', op];
}

/** Starts the proxy on 127.0.0.1 (a free port) in front of `target` (moto's URL). */
export async function startProxy(target) {
  const to = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let counts = new Map();
  const server = http.createServer((req, res) => {
    const [service, op] = classify(req);
    const key = `${service} ${op}`;
    let c = counts.get(key);
    if (!c) counts.set(key, (c = { service, op, calls: 0, refused: 0, up: 0, down: 0 }));
    c.calls += 1;
    const headers = { ...req.headers };
    delete headers.expect;
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers, agent },
      (answer) => {
        if (answer.statusCode >= 300) c.refused += 1;
        res.writeHead(answer.statusCode, answer.headers);
        answer.on('data', (d) => { c.down += d.length; });
        answer.pipe(res);
      },
    );
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`count-proxy: ${e.message}`);
    });
    req.on('data', (d) => { c.up += d.length; });
    req.pipe(upstream);
  });
  server.requestTimeout = 0;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** The counts since the last take, by "service op"; resets them. */
    take() {
      const taken = counts;
      counts = new Map();
      return taken;
    },
    close() {
      agent.destroy();
      server.closeAllConnections();
      server.close();
    },
  };
}
