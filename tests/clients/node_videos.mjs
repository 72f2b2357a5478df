// The official Node client's video methods on videos it uploads with an upload token:
// videos.get, update (PATCH title, description, tags, metadata, public, panoramic, mp4Support),
// getStatus (while uploading and once uploaded), delete, and their *WithResponseHeaders
// variants; the stored bytes (assets.mp4) against the files; the ApiVideoError of unknown or
// deleted videos, bad attributes, and deleted or expired tokens.
// Prints one JSON line per video: {"kept" | "deleted": videoId, "file": "small" | "whole"}.
// Usage: node node_videos.mjs BASE_URL API_KEY SMALL PART1 PART2
import ApiVideoClient from '@api.video/nodejs-client';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ApiVideoError = createRequire(import.meta.url)('@api.video/nodejs-client/lib/ApiVideoError').default;

const [baseUri, apiKey, small, part1, part2] = process.argv.slice(2);
assert.ok(part2, 'usage: node node_videos.mjs BASE_URL API_KEY SMALL PART1 PART2');
const client = new ApiVideoClient({ apiKey, baseUri });
const uploader = new ApiVideoClient({ baseUri, chunkSize: 5 * 1024 * 1024 }).videos; // token only
let checks = 0;
const check = (condition, message) => { assert.ok(condition, message); checks += 1; };
const same = (actual, expected, message) => { assert.deepEqual(actual, expected, message); checks += 1; };
const methods = new Set();
const EXPECTED_METHODS = [
  'videos.get', 'videos.getWithResponseHeaders', 'videos.update', 'videos.updateWithResponseHeaders',
  'videos.getStatus', 'videos.getStatusWithResponseHeaders', 'videos.delete', 'videos.deleteWithResponseHeaders',
];
/** Calls client.videos[name](...args), recording the method. */
const call = (name, ...args) => { methods.add(`videos.${name}`); return client.videos[name](...args); };

/** `promise` must reject with an ApiVideoError of `status` carrying a problem (naming `name`). */
async function fails(promise, status, name) {
  let error;
  try {
    const result = await promise;
    assert.fail(`expected ApiVideoError ${status}, got ${JSON.stringify(result)}`);
  } catch (e) {
    error = e;
  }
  check(error instanceof ApiVideoError, `not an ApiVideoError: ${error?.stack ?? error}`);
  const problem = error.problemDetails;
  check(error.code === status, `status ${error.code}, want ${status}: ${JSON.stringify(problem)}`);
  check(problem?.status === status && problem?.type?.startsWith('https://'), `problem: ${JSON.stringify(problem)}`);
  if (name !== undefined) check(problem.name === name, `problem name ${problem.name}, want ${name}`);
  return problem;
}

/** A receivedBytes item as a plain object (the client's model also has absent keys). */
const range = ({ from, to, total }) => ({ from, to, total });
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** assets.mp4 downloads `expected`, byte for byte. */
async function stored(video, expected, what) {
  const url = video.assets?.mp4;
  check(typeof url === 'string', `${what}: no assets.mp4: ${JSON.stringify(video)}`);
  const response = await fetch(url);
  check(response.status === 200, `${what}: download answers ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  check(bytes.length === expected.length && sha256(bytes) === sha256(expected),
    `${what}: stored ${bytes.length} bytes (${sha256(bytes)}), want ${expected.length} (${sha256(expected)})`);
  return url;
}

/** getStatus: ingest.status, receivedParts {parts, total} and receivedBytes. */
async function statusIs(videoId, status, parts, total, size) {
  const res = await call('getStatusWithResponseHeaders', videoId);
  check(res.headers['content-type'] === 'application/json', `status content type ${res.headers['content-type']}`);
  const st = await call('getStatus', videoId);
  same(st, res.body, 'getStatus and getStatusWithResponseHeaders agree');
  const { ingest } = st;
  check(ingest.status === status, `${videoId}: ingest.status ${ingest.status}, want ${status}`);
  same(ingest.receivedParts?.parts, parts, `${videoId}: receivedParts.parts`);
  check(ingest.receivedParts?.total === total, `${videoId}: receivedParts.total ${ingest.receivedParts?.total}, want ${total}`);
  same(ingest.receivedBytes.map(range), [{ from: 0, to: size - 1, total: status === 'uploaded' ? size : undefined }],
    `${videoId}: receivedBytes`);
  if (status === 'uploaded') check(ingest.filesize === size, `${videoId}: filesize ${ingest.filesize}, want ${size}`);
  check(st.encoding?.playable === false, `${videoId}: not transcoded, so not playable`);
}

const smallBytes = readFileSync(small);
const part1Bytes = readFileSync(part1);
const wholeBytes = Buffer.concat([part1Bytes, readFileSync(part2)]);
const { token } = await client.uploadTokens.createToken({ ttl: 600 });

// A small file in one request, without Content-Range: no parts to report, all bytes received.
const one = await uploader.uploadWithUploadToken(token, small);
{
  const { ingest } = await call('getStatus', one.videoId);
  check(ingest.status === 'uploaded' && ingest.filesize === smallBytes.length, `one request: ${JSON.stringify(ingest)}`);
  same(ingest.receivedBytes.map(range), [{ from: 0, to: smallBytes.length - 1, total: smallBytes.length }],
    'one request: receivedBytes');
}

// A progressive session, looked at between its parts.
const session = uploader.createUploadWithUploadTokenProgressiveSession(token);
const { videoId } = await session.uploadPart(part1);
await statusIs(videoId, 'uploading', [1], undefined, part1Bytes.length);
const pending = await call('get', videoId);
check(pending.videoId === videoId && pending.assets?.mp4 === undefined, `incomplete: no assets.mp4: ${JSON.stringify(pending)}`);
check(pending.publishedAt === undefined, 'incomplete: not published');
const two = await session.uploadLastPart(part2);
check(two.videoId === videoId, 'the session completes its video');
await statusIs(videoId, 'uploaded', [1, 2], 2, wholeBytes.length);

for (const [video, expected, file] of [[one, smallBytes, small], [two, wholeBytes, part1]]) {
  const res = await call('getWithResponseHeaders', video.videoId);
  check(res.headers['content-type'] === 'application/json', `get content type ${res.headers['content-type']}`);
  const got = res.body;
  const what = `get ${video.videoId}`;
  check(got.videoId === video.videoId && got.title === basename(file), `${what}: ${JSON.stringify(got)}`);
  same([got.tags, got.metadata], [[], []], `${what}: no tags or metadata yet`);
  same([got._public, got.panoramic, got.mp4Support], [true, false, true], `${what}: api.video's defaults`);
  same([got.source?.uri, got.source?.type], [`/videos/${video.videoId}/source`, 'upload'], `${what}: source`);
  check(got.createdAt instanceof Date && got.createdAt <= got.updatedAt && got.createdAt <= got.publishedAt,
    `${what}: dates ${got.createdAt} ${got.updatedAt} ${got.publishedAt}`);
  await stored(got, expected, what);
}

// PATCH every editable attribute at once.
let id = one.videoId;
const before = await call('get', id);
const payload = {
  title: 'Renamed clip',
  description: 'A clip uploaded with a delegated token',
  tags: ['tokens', 'client'],
  metadata: [{ key: 'client', value: 'node' }, { key: 'suite', value: 'official' }],
  _public: false, // the client's name for `public`
  panoramic: true,
  mp4Support: false,
};
const updated = await call('update', id, payload);
for (const [video, what] of [[updated, "update's answer"], [await call('get', id), 'get after update']]) {
  same({
    title: video.title, description: video.description, tags: video.tags,
    metadata: video.metadata.map(({ key, value }) => ({ key, value })), _public: video._public, panoramic: video.panoramic,
    mp4Support: video.mp4Support,
  }, payload, what);
  check(video.createdAt.getTime() === before.createdAt.getTime() && video.updatedAt >= before.updatedAt,
    `${what}: dates ${video.createdAt} ${video.updatedAt}`);
}

// A partial PATCH changes only what it names; arrays are replaced whole.
const partialRes = await call('updateWithResponseHeaders', id, { title: 'Retitled', tags: ['only'], mp4Support: true });
check(partialRes.headers['content-type'] === 'application/json', 'update content type');
const partial = partialRes.body;
same([partial.title, partial.tags, partial.mp4Support], ['Retitled', ['only'], true], 'partial update');
same([partial.description, partial.metadata.length, partial._public, partial.panoramic],
  [payload.description, 2, false, true], 'partial update kept the rest');
const cleared = await call('update', id, { tags: [], metadata: [], _public: true });
same([cleared.tags, cleared.metadata, cleared._public, cleared.title], [[], [], true, 'Retitled'], 'cleared');
await stored(await call('get', id), smallBytes, 'after the updates');
// Invalid attributes: 400 naming them, nothing changed.
for (const [body, name] of [[{ title: '' }, 'title'], [{ _public: 'yes' }, 'public'], [{ tags: [42] }, 'tags'],
  [{ metadata: [{ key: 'k' }] }, 'metadata'], [{ mp4Support: null }, 'mp4Support']]) {
  await fails(call('update', id, body), 400, name);
}
const unchanged = await call('get', id);
same([unchanged.title, unchanged._public, unchanged.tags], ['Retitled', true, []], 'refused PATCHes change nothing');
console.log(JSON.stringify({ kept: id, file: 'small' }));

// Delete: every video method then answers 404, and the stored object is gone.
id = two.videoId;
const url = await stored(await call('get', id), wholeBytes, 'before delete');
const deleted = await call('deleteWithResponseHeaders', id);
check(deleted.headers['content-type'] === undefined, 'a 204 has no content type');
await fails(call('get', id), 404);
await fails(call('getStatus', id), 404);
await fails(call('update', id, { title: 'x' }), 404);
await fails(call('delete', id), 404);
const gone = await fetch(url);
check([403, 404].includes(gone.status), `deleted video ${id}: assets.mp4 answers ${gone.status}`);
console.log(JSON.stringify({ deleted: id, file: 'whole' }));
const unknown = `vi${'A'.repeat(22)}`;
for (const name of ['get', 'getStatus', 'delete']) await fails(call(name, unknown), 404);

// A video deleted while its upload is in progress: the next part is refused with a 404.
const interrupted = uploader.createUploadWithUploadTokenProgressiveSession(token);
id = (await interrupted.uploadPart(small)).videoId;
await call('delete', id);
await fails(interrupted.uploadLastPart(small), 404, 'videoId');
console.log(JSON.stringify({ deleted: id, file: 'small' }));

// Deleted and expired tokens upload nothing.
await client.uploadTokens.deleteToken(token);
const short = (await client.uploadTokens.createToken({ ttl: 1 })).token;
await sleep(2100);
for (const dead of [token, short]) {
  const problem = await fails(uploader.uploadWithUploadToken(dead, small), 401);
  check(problem.type.endsWith('/authentication-invalid-upload-token'), `token ${dead}: ${JSON.stringify(problem)}`);
}

same([...methods].sort(), [...EXPECTED_METHODS].sort(), 'every video method used');
console.log(`node client: ${methods.size} video methods, ${checks} checks passed: ${[...methods].sort().join(', ')}`);
