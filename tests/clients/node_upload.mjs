// The official Node client's token uploads, unchanged: uploadWithUploadToken (a small file in one
// request without Content-Range; a large one chunked at 5 MiB, no videoId after the first chunk),
// uploadWithUploadTokenWithResponseHeaders, and progressive sessions
// (createUploadWithUploadTokenProgressiveSession: uploadPart, uploadLastPart and their
// *WithResponseHeaders variants), plus the ApiVideoError of bad tokens.
// Prints one JSON line per upload: {"method", "videoId", "file": "small" | "whole"}.
// Usage: node node_upload.mjs BASE_URL UPLOAD_TOKEN SMALL WHOLE PART1 PART2 (WHOLE = PART1 + PART2)
// With UPLOAD_TOKENS_BEHIND_API_GATEWAY=1 (API Gateway in front of the functions) the chunked
// uploads must be refused with 413: the client's smallest chunk (5 MiB) is over what one request
// carries there (about 4.5 MiB of file); the sessions' parts are then 4 MiB each, and
// uploadWithUploadTokenWithResponseHeaders sends the small file. API Gateway puts CORS headers
// only on requests with an Origin (a browser's), which this client does not send.
import ApiVideoClient from '@api.video/nodejs-client';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';

const ApiVideoError = createRequire(import.meta.url)('@api.video/nodejs-client/lib/ApiVideoError').default;

const [baseUri, token, small, whole, part1, part2] = process.argv.slice(2);
const behindGateway = process.env.UPLOAD_TOKENS_BEHIND_API_GATEWAY === '1';
assert.ok(part2, 'usage: node node_upload.mjs BASE_URL UPLOAD_TOKEN SMALL WHOLE PART1 PART2');
const CHUNK = 5 * 1024 * 1024;
const client = new ApiVideoClient({ baseUri, chunkSize: CHUNK });
let checks = 0;
const check = (condition, message) => { assert.ok(condition, message); checks += 1; };
const methods = new Set();
const EXPECTED_METHODS = [
  'videos.uploadWithUploadToken', 'videos.uploadWithUploadTokenWithResponseHeaders',
  'videos.createUploadWithUploadTokenProgressiveSession',
  'session.uploadPart', 'session.uploadPartWithResponseHeaders',
  'session.uploadLastPart', 'session.uploadLastPartWithResponseHeaders',
];
const used = (name) => methods.add(name);
const videoIds = new Set();

/** A finished upload: a new video named after the file, with its mp4 asset. */
function complete(video, method, file, title) {
  const id = video?.videoId;
  check(/^vi[0-9A-Za-z]{22}$/.test(id), `${method}: videoId ${id}`);
  check(!videoIds.has(id), `${method}: videoId ${id} reused`);
  videoIds.add(id);
  check(video.title === title, `${method}: title ${video.title}, want ${title}`);
  check(video.source?.uri === `/videos/${id}/source`, `${method}: source ${JSON.stringify(video.source)}`);
  check(typeof video.assets?.mp4 === 'string', `${method}: no assets.mp4 once complete: ${JSON.stringify(video)}`);
  console.log(JSON.stringify({ method, videoId: id, file }));
}

/** The headers of an accepted upload request. */
function headersOk(headers, method) {
  check(headers['content-type'] === 'application/json', `${method}: content type ${headers['content-type']}`);
  if (behindGateway) {
    check(headers['access-control-allow-origin'] === undefined, `${method}: CORS header without an Origin`);
  } else {
    check(headers['access-control-allow-origin'] !== undefined, `${method}: no Access-Control-Allow-Origin`);
  }
}

const size = statSync(whole).size;
check(statSync(small).size < CHUNK && CHUNK < size, 'SMALL must fit in one chunk, WHOLE must not');
check(statSync(part1).size + statSync(part2).size === size, 'WHOLE = PART1 + PART2');

// Bad tokens: 401 whatever the file, nothing created.
for (const [bad, slug] of [[`to${'A'.repeat(22)}`, 'authentication-invalid-upload-token'],
  ['', 'authentication-missing-upload-token']]) {
  await assert.rejects(client.videos.uploadWithUploadToken(bad, small), (e) => {
    check(e instanceof ApiVideoError, `token '${bad}': not an ApiVideoError: ${e?.stack ?? e}`);
    check(e.code === 401, `token '${bad}': status ${e.code}`);
    check(e.problemDetails?.status === 401 && e.problemDetails?.type?.endsWith(`/${slug}`),
      `token '${bad}': ${JSON.stringify(e.problemDetails)}`);
    return true;
  });
}

// A small file: one request, no Content-Range.
complete(await client.videos.uploadWithUploadToken(token, small), 'uploadWithUploadToken', 'small', basename(small));
used('videos.uploadWithUploadToken');

if (behindGateway) {
  // A 5 MiB chunk is a ~7 MB event once base64-encoded: API Gateway answers 413 itself.
  for (const upload of [client.videos.uploadWithUploadToken, client.videos.uploadWithUploadTokenWithResponseHeaders]) {
    await assert.rejects(upload.call(client.videos, token, whole), (e) => {
      check(e instanceof ApiVideoError && e.code === 413, `chunked behind API Gateway: ${e?.code ?? e}`);
      return true;
    });
  }
  const res = await client.videos.uploadWithUploadTokenWithResponseHeaders(token, small);
  used('videos.uploadWithUploadTokenWithResponseHeaders');
  headersOk(res.headers, 'uploadWithUploadTokenWithResponseHeaders');
  complete(res.body, 'uploadWithUploadTokenWithResponseHeaders', 'small', basename(small));
} else {
  // 12 MiB in 5 MiB chunks (`part k/3`, no videoId after the first).
  const chunks = new Set();
  const video = await client.videos.uploadWithUploadToken(token, whole, (e) => {
    check(e.chunksCount === 3 && e.totalBytes === size && e.uploadedBytes <= size, `progress ${JSON.stringify(e)}`);
    chunks.add(e.currentChunk);
  });
  assert.deepEqual([...chunks].sort(), [0, 1, 2], 'progress reported for every chunk'); checks += 1;
  complete(video, 'uploadWithUploadToken (chunked)', 'whole', basename(whole));
  const res = await client.videos.uploadWithUploadTokenWithResponseHeaders(token, whole);
  used('videos.uploadWithUploadTokenWithResponseHeaders');
  headersOk(res.headers, 'uploadWithUploadTokenWithResponseHeaders');
  complete(res.body, 'uploadWithUploadTokenWithResponseHeaders (chunked)', 'whole', basename(whole));
}

// Progressive sessions: each part a file; the session sends the videoId after the first part.
let session = client.videos.createUploadWithUploadTokenProgressiveSession(token);
used('videos.createUploadWithUploadTokenProgressiveSession');
const first = await session.uploadPart(part1);
used('session.uploadPart');
check(/^vi/.test(first.videoId) && first.assets?.mp4 === undefined, `an incomplete video: ${JSON.stringify(first)}`);
const last = await session.uploadLastPart(part2);
used('session.uploadLastPart');
check(last.videoId === first.videoId, 'the last part completes the same video');
complete(last, 'progressiveSession', 'whole', basename(part1));

session = client.videos.createUploadWithUploadTokenProgressiveSession(token);
const firstRes = await session.uploadPartWithResponseHeaders(part1);
used('session.uploadPartWithResponseHeaders');
headersOk(firstRes.headers, 'uploadPartWithResponseHeaders');
const lastRes = await session.uploadLastPartWithResponseHeaders(part2);
used('session.uploadLastPartWithResponseHeaders');
headersOk(lastRes.headers, 'uploadLastPartWithResponseHeaders');
check(lastRes.body.videoId === firstRes.body.videoId, 'the last part completes the same video');
complete(lastRes.body, 'progressiveSession (WithResponseHeaders)', 'whole', basename(part1));

assert.deepEqual([...methods].sort(), [...EXPECTED_METHODS].sort(), 'every token-upload method used');
console.log(`node client: ${methods.size} upload methods, ${videoIds.size} uploads, ${checks} checks passed: `
  + `${[...methods].sort().join(', ')}`);
