// Drives the official Node client (npm @api.video/nodejs-client, Basic auth) through every
// upload-token method against a running server. Usage: node node_tokens.mjs BASE_URL API_KEY
import ApiVideoClient from '@api.video/nodejs-client';
import assert from 'node:assert/strict';

const [baseUri, apiKey] = process.argv.slice(2);
const client = new ApiVideoClient({ apiKey, baseUri });
const tokens = client.uploadTokens;
let checks = 0;
const check = (condition, message) => { assert.ok(condition, message); checks += 1; };

const short = await tokens.createToken({ ttl: 60 });
const long = await tokens.createToken({ ttl: 7200 });
const never = await tokens.createToken({ ttl: 0 });
check(/^to[0-9A-Za-z]{22}$/.test(short.token), 'token id format');
check(short.ttl === 60 && short.expiresAt instanceof Date, 'ttl and expiresAt');
check(never.expiresAt === undefined, 'never-expiring token has no expiresAt');

const mine = new Set([short.token, long.token, never.token]);
const order = (list) => list.data.map((t) => t.token).filter((t) => mine.has(t));
assert.deepEqual(order(await tokens.list({ sortBy: 'ttl', sortOrder: 'desc', pageSize: 100 })),
  [never.token, long.token, short.token]); checks += 1;
assert.deepEqual(order(await tokens.list({ sortBy: 'createdAt', sortOrder: 'asc', pageSize: 100 })),
  [short.token, long.token, never.token]); checks += 1;

const page = await tokens.list({ pageSize: 2, currentPage: 1 });
check(page.pagination.pageSize === 2 && page.data.length === 2, 'page size');
check(page.pagination.itemsTotal >= 3 && page.pagination.pagesTotal >= 2, 'totals');
check(page.pagination.links.map((l) => l.rel).includes('next'), 'next link');

const got = await tokens.getToken(long.token);
check(got.token === long.token && got.ttl === 7200, 'get');
await tokens.deleteToken(long.token);
for (const call of [() => tokens.getToken(long.token), () => tokens.deleteToken(long.token)]) {
  await assert.rejects(call, (e) => e.code === 404 && e.problemDetails?.name === 'uploadToken');
  checks += 1;
}
await assert.rejects(() => tokens.createToken({ ttl: -1 }),
  (e) => e.code === 400 && e.problemDetails?.name === 'ttl'); checks += 1;
const stranger = new ApiVideoClient({ apiKey: 'not-a-real-key-000', baseUri });
await assert.rejects(() => stranger.uploadTokens.list(), (e) => e.code === 401); checks += 1;
for (const t of [short.token, never.token]) await tokens.deleteToken(t);

console.log(`node client: ${checks} checks passed`);
