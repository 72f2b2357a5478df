// `./infra/bench.sh tus`: tus 1.0 uploads (SPEC §10) to the local server (`local-api --store aws`,
// release build: DynamoDB + S3 on moto) against @tus/server + @tus/s3-store on the same moto, by
// the same client (this script: Node's fetch, a creation POST without data, then sequential
// PATCHes of one chunk size), same file, same run. Rounds interleave the two servers
// (alternating which goes first); each upload is timed end to end (POST to the last 204).
// One more upload per server and chunk size goes through a counting proxy in front of moto
// (count-proxy.mjs), untimed: the S3 and DynamoDB calls each server makes, and the file is
// read back from S3 and compared byte for byte. Objects are deleted between uploads (untimed),
// so that moto holds one upload at a time. Prints the BENCHMARKS.md tables on stdout, progress
// on stderr.
//
//   node infra/bench-tus/bench.mjs --local-api target/release/local-api
// with AWS_ENDPOINT_URL (moto) and the test credentials of infra/moto.sh in the environment.
// TUS_MIB (default 256), TUS_ROUNDS (default 5), TUS_CHUNKS_MIB (default "4,16").

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  S3Client, CreateBucketCommand, ListObjectsV2Command, DeleteObjectsCommand, GetObjectCommand,
  ListMultipartUploadsCommand, AbortMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { startProxy } from './count-proxy.mjs';

const MIB = 1024 * 1024;
const here = path.dirname(new URL(import.meta.url).pathname);
const { values: args } = parseArgs({
  options: { 'local-api': { type: 'string' }, 'log-dir': { type: 'string', default: 'target' } },
});
const moto = process.env.AWS_ENDPOINT_URL;
if (!moto || !args['local-api']) {
  console.error('usage: AWS_ENDPOINT_URL=<moto> node bench.mjs --local-api <binary> (run ./infra/bench.sh tus)');
  process.exit(2);
}
const TOTAL = Number(process.env.TUS_MIB ?? 256) * MIB;
const ROUNDS = Number(process.env.TUS_ROUNDS ?? 5);
const CHUNKS = (process.env.TUS_CHUNKS_MIB ?? '4,16').split(',').map((c) => Number(c) * MIB);
const WARMUP = 32 * MIB;
const STORE_MIN_PART = 5 * MIB;
const STORE_DEFAULT_PART = 8 * MIB;
const version = (pkg) => JSON.parse(readFileSync(path.join(here, 'node_modules', pkg, 'package.json'))).version;
const log = (...a) => console.error(...a);

// The file: pseudo-random bytes (xorshift32), the same in every upload.
function fileBytes(n) {
  const words = new Uint32Array(n / 4);
  let x = 2463534242;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer);
}

// --- child processes, all stopped however this script ends ---
const children = [];
function stopChildren() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
process.on('exit', stopChildren);
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => { stopChildren(); process.exit(130); });

/** Spawns a server; resolves with what `ready(line)` finds in its stdout (logged to logFile). */
function startServer(name, cmd, argv, env, logFile, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    const out = createWriteStream(logFile);
    let buffered = '';
    let found = null;
    const onData = (d) => {
      out.write(d);
      if (found) return;
      buffered += d.toString();
      const got = ready(buffered);
      if (got) { found = got; resolve({ ...got, child, name }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => out.write(d));
    child.on('exit', (code, signal) => {
      if (!found) reject(new Error(`${name} exited (${code ?? signal}) before it listened; see ${logFile}`));
    });
  });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-tus-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const id = `${process.pid}-${Date.now()}`;

async function startOurs(label, endpoint) {
  const bucket = `bench-tus-ours-${label}-${id}`;
  const server = await startServer(`local-api (${label})`, args['local-api'], [
    '--addr', '127.0.0.1:0', '--data-dir', path.join(tmp, `ours-${label}`), '--store', 'aws',
    '--table', `bench-tus-${label}-${id}`, '--bucket', bucket, '--create-table',
  ], { AWS_ENDPOINT_URL: endpoint, RUST_LOG: 'warn' },
  path.join(args['log-dir'], `bench-tus-ours-${label}.log`), (text) => {
    const url = text.match(/local API on (http:\/\/\S+)/)?.[1];
    const key = text.match(/API key: (\S+) \(shown once/)?.[1];
    return url && key ? { url, key } : null;
  });
  const made = await fetch(`${server.url}/upload-tokens`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${server.key}:`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ttl: 86400 }),
  });
  if (made.status !== 200) throw new Error(`token: ${made.status} ${await made.text()}`);
  const { token } = await made.json();
  return { ...server, bucket, createUrl: `${server.url}/upload/${token}/tus` };
}

async function startTheirs(label, endpoint, bucket, partSize) {
  const server = await startServer(`@tus/server (${label})`, process.execPath, [
    path.join(here, 'peer-server.mjs'), '--endpoint', endpoint, '--bucket', bucket, '--part-size', String(partSize),
  ], {}, path.join(args['log-dir'], `bench-tus-theirs-${label}.log`), (text) => {
    const line = text.split('\n').find((l) => l.startsWith('{'));
    return line ? JSON.parse(line) : null;
  });
  return { ...server, bucket, partSize, createUrl: `${server.url}/files` };
}

// --- S3 housekeeping, straight to moto, never timed ---
const s3 = new S3Client({
  endpoint: moto, region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'test', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'test' },
});
async function listAll(bucket) {
  const out = [];
  let token;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    out.push(...(page.Contents ?? []));
    token = page.NextContinuationToken;
  } while (token);
  return out;
}
/** Checks the bucket holds the file (size; bytes too with `compare`), then empties it. */
async function checkAndEmpty(bucket, compare, data) {
  const objects = await listAll(bucket);
  const files = objects.filter((o) => o.Size === data.length);
  if (files.length !== 1) {
    throw new Error(`${bucket}: expected one object of ${data.length} bytes, found ${JSON.stringify(objects.map((o) => [o.Key, o.Size]))}`);
  }
  if (compare) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: files[0].Key }));
    const bytes = Buffer.from(await got.Body.transformToByteArray());
    if (!bytes.equals(data)) throw new Error(`${bucket}/${files[0].Key}: the stored bytes differ from the file`);
  }
  const others = objects.filter((o) => o !== files[0]).map((o) => `\`${o.Key.replace(/[0-9A-Za-z_-]{16,}/g, '…')}\` (${o.Size} B)`);
  const pending = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
  for (const u of pending) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
  for (let i = 0; i < objects.length; i += 1000) {
    await s3.send(new DeleteObjectsCommand({
      Bucket: bucket, Delete: { Objects: objects.slice(i, i + 1000).map((o) => ({ Key: o.Key })), Quiet: true },
    }));
  }
  return { others, pending: pending.length };
}

// --- the client: the same for both servers ---
const METADATA = `filename ${Buffer.from('bench.mp4').toString('base64')},filetype ${Buffer.from('video/mp4').toString('base64')}`;
async function tusUpload(server, data, chunk, afterCreate = () => {}) {
  const started = performance.now();
  const created = await fetch(server.createUrl, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(data.length), 'Upload-Metadata': METADATA },
  });
  const createdText = await created.text();
  if (created.status !== 201 || !created.headers.get('location')) {
    throw new Error(`${server.name}: POST → ${created.status} ${createdText}`);
  }
  const createMs = performance.now() - started;
  const location = new URL(created.headers.get('location'), server.createUrl).href;
  afterCreate();
  let patches = 0;
  for (let offset = 0; offset < data.length; offset += chunk) {
    const body = data.subarray(offset, Math.min(offset + chunk, data.length));
    const answer = await fetch(location, {
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
      body,
    });
    const text = await answer.text();
    const moved = Number(answer.headers.get('upload-offset'));
    if (answer.status !== 204 || moved !== offset + body.length) {
      throw new Error(`${server.name}: PATCH at ${offset} (${body.length} B) → ${answer.status}, Upload-Offset ${answer.headers.get('upload-offset')}: ${text}`);
    }
    patches += 1;
  }
  return { seconds: (performance.now() - started) / 1000, createMs, patches };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const mib = (n) => `${n / MIB} MiB`;
const fmt = (x, d = 0) => x.toFixed(d);

async function main() {
  const startedAt = performance.now();
  log(`tus bench: ${mib(TOTAL)}, chunks ${CHUNKS.map(mib).join(' and ')}, ${ROUNDS} rounds`);
  const data = fileBytes(TOTAL);
  const warm = data.subarray(0, WARMUP);
  const proxy = await startProxy(moto);
  const theirsBucket = { direct: `bench-tus-theirs-direct-${id}`, counted: `bench-tus-theirs-counted-${id}` };
  for (const b of Object.values(theirsBucket)) await s3.send(new CreateBucketCommand({ Bucket: b }));

  const ours = { direct: await startOurs('direct', moto), counted: await startOurs('counted', proxy.url) };
  const partSize = (chunk) => (chunk >= STORE_MIN_PART ? chunk : STORE_DEFAULT_PART);
  const theirs = {};
  for (const chunk of CHUNKS) {
    theirs[chunk] = {
      direct: await startTheirs(`direct-${chunk / MIB}`, moto, theirsBucket.direct, partSize(chunk)),
      counted: await startTheirs(`counted-${chunk / MIB}`, proxy.url, theirsBucket.counted, partSize(chunk)),
    };
  }
  const servers = (chunk, how) => ({ ours: ours[how], theirs: theirs[chunk][how] });

  // Warm-up: a small upload to every instance at its chunk size (first connections, first
  // SDK calls), untimed and uncounted.
  for (const chunk of CHUNKS) {
    for (const how of ['direct', 'counted']) {
      for (const server of Object.values(servers(chunk, how))) {
        await tusUpload(server, warm, chunk);
        await checkAndEmpty(server.bucket, false, warm);
      }
    }
  }
  proxy.take();
  log('warm-up done');

  // Counting round: one upload per server and chunk size through the proxy.
  const counted = {};
  for (const chunk of CHUNKS) {
    for (const [side, server] of Object.entries(servers(chunk, 'counted'))) {
      proxy.take();
      let creation;
      const run = await tusUpload(server, data, chunk, () => { creation = proxy.take(); });
      const patches = proxy.take();
      const left = await checkAndEmpty(server.bucket, true, data);
      counted[`${side} ${chunk}`] = { creation, patches, run, left };
      log(`counted: ${side}, ${mib(chunk)} chunks: ${fmt(TOTAL / MIB / run.seconds)} MiB/s through the proxy; bytes identical`);
    }
  }

  // Timed rounds, straight to moto.
  const timed = {};
  const loads = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const chunk of CHUNKS) {
      const order = round % 2 === 0 ? ['ours', 'theirs'] : ['theirs', 'ours'];
      const block = {};
      for (const side of order) {
        const server = servers(chunk, 'direct')[side];
        loads.push(os.loadavg()[0]);
        block[side] = await tusUpload(server, data, chunk);
        await checkAndEmpty(server.bucket, false, data);
      }
      (timed[chunk] ??= []).push(block);
      log(`round ${round + 1}/${ROUNDS}, ${mib(chunk)} chunks: ours ${fmt(TOTAL / MIB / block.ours.seconds)} MiB/s, theirs ${fmt(TOTAL / MIB / block.theirs.seconds)} MiB/s (${order.join(' first, ')} second)`);
    }
  }

  const rss = (child) => {
    try {
      const kb = Number(readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)[1]);
      return `${fmt(kb / 1024)} MiB`;
    } catch { return '–'; }
  };
  const peak = {
    ours: rss(ours.direct.child),
    theirs: CHUNKS.map((c) => `${rss(theirs[c].direct.child)} (${mib(partSize(c))} parts)`).join(', '),
  };
  proxy.close();
  const oursWarnings = ['direct', 'counted']
    .map((l) => readFileSync(path.join(args['log-dir'], `bench-tus-ours-${l}.log`), 'utf8'))
    .join('').split('\n').filter((l) => /\b(WARN|ERROR)\b/.test(l)).length;

  // --- tables ---
  const theirsName = `@tus/server ${version('@tus/server')} + @tus/s3-store ${version('@tus/s3-store')}`;
  const label = (side, chunk) => (side === 'ours'
    ? 'ours: `local-api --store aws` (release)'
    : `theirs: ${theirsName}, partSize ${mib(partSize(chunk))}`);
  const lines = [];
  lines.push(`| ${mib(TOTAL)} by tus to moto | chunk (PATCH) size | MiB/s, median of ${ROUNDS} (min–max) | creation POST (ms, median) | ours ÷ theirs, per round: median (min–max) |`);
  lines.push('|---|---|---:|---:|---:|');
  for (const chunk of CHUNKS) {
    const blocks = timed[chunk];
    for (const side of ['theirs', 'ours']) {
      const speeds = blocks.map((b) => TOTAL / MIB / b[side].seconds);
      const ratios = blocks.map((b) => b.theirs.seconds / b[side].seconds);
      const ratio = side === 'theirs' ? '1.00×'
        : `${fmt(median(ratios), 2)}× (${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)})`;
      lines.push(`| ${label(side, chunk)} | ${mib(chunk)} | ${fmt(median(speeds))} (${fmt(Math.min(...speeds))}–${fmt(Math.max(...speeds))}) | ${fmt(median(blocks.map((b) => b[side].createMs)), 1)} | ${ratio} |`);
    }
  }
  lines.push('');
  lines.push('| calls to moto, one upload through the counting proxy | chunk size | PATCHes | S3: creation | S3 per PATCH | DynamoDB: creation | DynamoDB per PATCH | bytes to S3 ÷ file | bytes from S3 ÷ file | S3 operations over the PATCHes (answers ≥ 300) | DynamoDB operations over the PATCHes | objects left besides the file |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|');
  for (const chunk of CHUNKS) {
    for (const side of ['theirs', 'ours']) {
      const c = counted[`${side} ${chunk}`];
      const sum = (m, service, field) => [...m.values()].filter((x) => x.service === service).reduce((a, x) => a + x[field], 0);
      const ops = (m, service) => [...m.values()].filter((x) => x.service === service)
        .sort((a, b) => b.calls - a.calls || a.op.localeCompare(b.op))
        .map((x) => `${x.op} ${x.calls}${x.refused ? ` (${x.refused})` : ''}`).join(', ') || '–';
      const n = c.run.patches;
      const per = (service) => fmt(sum(c.patches, service, 'calls') / n, 2);
      const both = [c.creation, c.patches];
      const bytes = (field) => fmt(both.reduce((a, m) => a + sum(m, 's3', field), 0) / TOTAL, 2);
      lines.push(`| ${side === 'ours' ? 'ours' : `theirs (partSize ${mib(partSize(chunk))})`} | ${mib(chunk)} | ${n} | ${sum(c.creation, 's3', 'calls')} | ${per('s3')} | ${sum(c.creation, 'dynamodb', 'calls')} | ${per('dynamodb')} | ${bytes('up')} | ${bytes('down')} | ${ops(c.patches, 's3')} | ${ops(c.patches, 'dynamodb')} | ${c.left.others.join(', ') || 'none'}${c.left.pending ? `; ${c.left.pending} unfinished multipart upload(s)` : ''} |`);
    }
  }
  lines.push('');
  lines.push(`Peak RSS of the timed servers' processes: ours ${peak.ours} (one process for both chunk sizes); theirs ${peak.theirs}. ` +
    `1-minute load average at the start of each timed upload: ${fmt(Math.min(...loads), 2)}–${fmt(Math.max(...loads), 2)} ` +
    `(2 cores shared with other work). Our servers logged ${oursWarnings} WARN/ERROR line(s) (\`RUST_LOG=warn\`).`);
  log(`bench: ${fmt((performance.now() - startedAt) / 1000)} s`);
  console.log(lines.join('\n'));
}

main().then(() => { stopChildren(); process.exit(0); }, (e) => {
  console.error(e);
  stopChildren();
  process.exit(1);
});
