// Drives the official Node client (npm @api.video/nodejs-client 2.6.8, Basic auth) through every
// upload-token method against a running server: createToken (with and without ttl), list
// (sortBy, sortOrder, currentPage, pageSize; every page walked), getToken, deleteToken, their
// *WithResponseHeaders variants, and the ApiVideoError of each kind of failure.
// Usage: node node_tokens.mjs BASE_URL API_KEY
import ApiVideoClient from '@api.video/nodejs-client';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const ApiVideoError = createRequire(import.meta.url)('@api.video/nodejs-client/lib/ApiVideoError').default;

const [baseUri, apiKey] = process.argv.slice(2);
assert.ok(baseUri && apiKey, 'usage: node node_tokens.mjs BASE_URL API_KEY');
const client = new ApiVideoClient({ apiKey, baseUri });
const tokens = client.uploadTokens;
let checks = 0;
const check = (condition, message) => { assert.ok(condition, message); checks += 1; };
const same = (actual, expected, message) => { assert.deepEqual(actual, expected, message); checks += 1; };
const methods = new Set();
const EXPECTED_METHODS = [
  'uploadTokens.createToken', 'uploadTokens.createTokenWithResponseHeaders',
  'uploadTokens.list', 'uploadTokens.listWithResponseHeaders',
  'uploadTokens.getToken', 'uploadTokens.getTokenWithResponseHeaders',
  'uploadTokens.deleteToken', 'uploadTokens.deleteTokenWithResponseHeaders',
];
/** Calls tokens[name](...args), recording the method. */
const call = (name, ...args) => { methods.add(`uploadTokens.${name}`); return tokens[name](...args); };

/** `promise` must reject with an ApiVideoError of `status` whose problem has `slug` (and `name`). */
async function fails(promise, status, slug, name) {
  let error;
  try {
    const result = await promise;
    assert.fail(`expected ApiVideoError ${status} ${slug}, got ${JSON.stringify(result)}`);
  } catch (e) {
    error = e;
  }
  check(error instanceof ApiVideoError, `not an ApiVideoError: ${error?.stack ?? error}`);
  const problem = error.problemDetails;
  check(error.code === status, `status ${error.code}, want ${status}: ${JSON.stringify(problem)}`);
  check(problem?.status === status, `problem status: ${JSON.stringify(problem)}`);
  check(problem?.type?.endsWith(`/${slug}`), `problem type ${problem?.type}, want ${slug}`);
  check(typeof problem.title === 'string' && problem.title.length > 0, 'problem title');
  check(error.message === problem.title, `error message is the problem title: ${error.message}`);
  if (name !== undefined) check(problem.name === name, `problem name ${problem.name}, want ${name}`);
  return problem;
}

// Authentication failures.
await fails(new ApiVideoClient({ apiKey: 'not-a-real-key-000', baseUri }).uploadTokens.list(), 401,
  'authentication-invalid-api-key');
await fails(new ApiVideoClient({ baseUri }).uploadTokens.list(), 401,
  'authentication-missing-authorization-header');

const before = (await call('list')).pagination.itemsTotal;
check(Number.isInteger(before), 'itemsTotal');

const short = await call('createToken', { ttl: 60 });
const created = await call('createTokenWithResponseHeaders', { ttl: 7200 });
check(created.headers['content-type'] === 'application/json', `content type ${created.headers['content-type']}`);
const long = created.body;
const never = await call('createToken', { ttl: 0 });
const implicit = await call('createToken'); // no payload: the client sends {}
const empty = await call('createToken', {});
const mine = [short, long, never, implicit, empty];
const ids = mine.map((t) => t.token);
check(new Set(ids).size === mine.length, 'tokens are distinct');
for (const t of mine) {
  check(/^to[0-9A-Za-z]{22}$/.test(t.token), `token id format ${t.token}`);
  check(t.createdAt instanceof Date && !Number.isNaN(t.createdAt.getTime()), `createdAt ${t.createdAt}`);
}
check(short.ttl === 60 && short.expiresAt - short.createdAt === 60_000, 'expiresAt = createdAt + 60');
check(long.ttl === 7200 && long.expiresAt - long.createdAt === 7_200_000, 'expiresAt = createdAt + 7200');
for (const t of [never, implicit, empty]) {
  check(t.ttl === 0 && t.expiresAt === undefined, `never-expiring token: ${JSON.stringify(t)}`);
}

// Invalid input: 400 problems naming the parameter.
for (const ttl of [-1, 2147483648, 1.5, 'soon']) {
  await fails(call('createToken', { ttl }), 400, 'invalid-attribute', 'ttl');
}
for (const [args, name] of [[{ pageSize: 101 }, 'pageSize'], [{ pageSize: 0 }, 'pageSize'],
  [{ currentPage: 0 }, 'currentPage'], [{ sortBy: 'title' }, 'sortBy'], [{ sortOrder: 'up' }, 'sortOrder']]) {
  await fails(call('list', args), 400, 'invalid-query-parameter', name);
}

const total = before + mine.length;
const order = async (args) => {
  const listed = await call('list', { ...args, pageSize: 100 });
  check(listed.pagination.itemsTotal === total, `itemsTotal ${listed.pagination.itemsTotal}, want ${total}`);
  return listed.data.map((t) => t.token).filter((t) => ids.includes(t));
};
const forever = [never, implicit, empty].map((t) => t.token);
let byTtl = await order({ sortBy: 'ttl', sortOrder: 'desc' });
same(new Set(byTtl.slice(0, 3)), new Set(forever), `ttl desc: never-expiring first: ${byTtl}`);
same(byTtl.slice(3), [long.token, short.token], `ttl desc: ${byTtl}`);
byTtl = await order({ sortBy: 'ttl', sortOrder: 'asc' });
// Never-expiring tokens count as the longest-lived; ties are broken by token id.
same(byTtl, [short.token, long.token, ...[...forever].sort()], `ttl asc: ${byTtl}`);
same(await order({ sortBy: 'createdAt', sortOrder: 'asc' }), ids, 'createdAt asc');
same(await order({ sortBy: 'createdAt', sortOrder: 'desc' }), [...ids].reverse(), 'createdAt desc');
same(await order({}), ids, 'default order is createdAt asc');

// Walk every page, two tokens a page, by ttl desc: no repeats, no gaps, the spec's links.
const pageSize = 2;
const pagesTotal = Math.ceil(total / pageSize);
const seen = [];
let page = 1;
for (;;) {
  const res = await call('listWithResponseHeaders', { sortBy: 'ttl', sortOrder: 'desc', currentPage: page, pageSize });
  check(res.headers['content-type'] === 'application/json', `list content type ${res.headers['content-type']}`);
  const p = res.body.pagination;
  check(p.currentPage === page && p.pageSize === pageSize, `page ${page} echo: ${JSON.stringify(p)}`);
  check(p.itemsTotal === total && p.pagesTotal === pagesTotal, `page ${page} totals: ${JSON.stringify(p)}`);
  const items = page < pagesTotal ? pageSize : total - pageSize * (pagesTotal - 1);
  check(p.currentPageItems === items && res.body.data.length === items, `page ${page} items ${p.currentPageItems}`);
  const q = (n) => `/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage=${n}&pageSize=${pageSize}`;
  const want = [['self', q(page)], ['first', q(1)]];
  if (page > 1) want.push(['previous', q(page - 1)]);
  if (page < pagesTotal) want.push(['next', q(page + 1)]);
  want.push(['last', q(pagesTotal)]);
  same(p.links.map((l) => [l.rel, l.uri]), want, `page ${page} links`);
  seen.push(...res.body.data.map((t) => t.token));
  if (!p.links.some((l) => l.rel === 'next')) break;
  page += 1;
}
check(page === pagesTotal, `walked ${page} pages, want ${pagesTotal}`);
check(seen.length === total && new Set(seen).size === total, `pages repeat or skip: ${seen}`);
same(new Set(seen.filter((t) => ids.includes(t))), new Set(ids), 'every created token listed');
const past = await call('list', { currentPage: pagesTotal + 1, pageSize });
check(past.data.length === 0 && past.pagination.itemsTotal === total, 'a page past the last is empty');

for (const t of mine) same(await call('getToken', t.token), t, `get ${t.token}`);
const got = await call('getTokenWithResponseHeaders', long.token);
check(got.headers['content-type'] === 'application/json', 'get content type');
same(got.body, long, 'getTokenWithResponseHeaders');

await call('deleteToken', long.token);
const deleted = await call('deleteTokenWithResponseHeaders', short.token);
// The client turns the empty 204 body into the string '""'.
check(['', '""'].includes(deleted.body) && deleted.headers['content-type'] === undefined, `a 204 has no body: ${JSON.stringify(deleted)}`);
const unknown = `to${'A'.repeat(22)}`;
for (const t of [long.token, short.token, unknown]) {
  await fails(call('getToken', t), 404, 'resource-not-found', 'uploadToken');
  await fails(call('deleteToken', t), 404, 'resource-not-found', 'uploadToken');
}
const left = (await call('list', { pageSize: 100 })).data.map((t) => t.token);
check(!left.includes(long.token) && !left.includes(short.token) && left.includes(never.token),
  'deleted tokens leave the list');
for (const t of [never, implicit, empty]) await call('deleteToken', t.token);
check((await call('list')).pagination.itemsTotal === before, 'every created token deleted');

// A token with a policy (SPEC §7), made over plain HTTP (the client has no such fields): the
// client still reads it, on get and in a listing.
const policy = { name: 'web', maxFileBytes: 2147483648, allowedContentTypes: ['video/*'], maxUploads: 1,
  allowedOrigins: ['https://app.example.com'], video: { title: 'From the app', tags: ['web'] } };
const made = await fetch(`${baseUri}/upload-tokens`, {
  method: 'POST',
  headers: { Authorization: `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}`, 'Content-Type': 'application/json' },
  body: JSON.stringify(policy),
});
check(made.status === 200, `token with a policy: ${made.status}`);
const limited = (await made.json()).token;
const limitedGot = await call('getToken', limited);
check(limitedGot.token === limited && limitedGot.ttl === 0, `get a token with a policy: ${JSON.stringify(limitedGot)}`);
const limitedListed = (await call('list', { pageSize: 100 })).data.filter((t) => t.token === limited);
check(limitedListed.length === 1, `list a token with a policy: ${JSON.stringify(limitedListed)}`);
await call('deleteToken', limited);

same([...methods].sort(), [...EXPECTED_METHODS].sort(), 'every upload-token method used');
console.log(`node client: ${methods.size} methods, ${checks} checks passed: ${[...methods].sort().join(', ')}`);
