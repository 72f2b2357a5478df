// The official Node client's token uploads, unchanged: uploadWithUploadToken (chunked at 5 MiB)
// and a progressive session. Prints one JSON line per upload: {"method", "videoId"}.
// Usage: node node_upload.mjs BASE_URL UPLOAD_TOKEN FILE PART1 PART2
import ApiVideoClient from '@api.video/nodejs-client';

const [baseUri, token, whole, part1, part2] = process.argv.slice(2);
const client = new ApiVideoClient({ baseUri, chunkSize: 5 * 1024 * 1024 });

const video = await client.videos.uploadWithUploadToken(token, whole);
console.log(JSON.stringify({ method: 'uploadWithUploadToken', videoId: video.videoId }));

const session = client.videos.createUploadWithUploadTokenProgressiveSession(token);
await session.uploadPart(part1);
const last = await session.uploadLastPart(part2);
console.log(JSON.stringify({ method: 'progressiveSession', videoId: last.videoId }));
