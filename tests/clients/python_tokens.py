"""Drives the official Python client (PyPI api.video 1.4.7, Bearer via /auth/api-key) through
every upload-token method against a running server: create_token (with and without ttl), list
(sort_by, sort_order, current_page, page_size; every page walked), get_token, delete_token, the
client's connect/refresh_token, and the typed exceptions of its errors.
Usage: python_tokens.py BASE_URL API_KEY"""
import json
import sys
from datetime import timedelta

import apivideo
from apivideo.api.upload_tokens_api import UploadTokensApi
from apivideo.api_client import ApiClient
from apivideo.configuration import Configuration
from apivideo.exceptions import (
    ApiException,
    NotFoundException,
    UnauthorizedException,
)
from apivideo.model.token_creation_payload import TokenCreationPayload

import tally
from tally import check, fails, methods, used

base_url, api_key = sys.argv[1], sys.argv[2]
EXPECTED_METHODS = {
    "AuthenticatedApiClient.connect",
    "AuthenticatedApiClient.refresh_token",
    "UploadTokensApi.create_token",
    "UploadTokensApi.list",
    "UploadTokensApi.get_token",
    "UploadTokensApi.delete_token",
}





def lenient(ttl):
    """A payload the client would refuse to build: its ttl bounds checked by the server only."""
    configuration = Configuration(disabled_client_side_validations="minimum,maximum")
    return TokenCreationPayload(ttl=ttl, _configuration=configuration)


# A bad API key: /auth/api-key answers 400, which the client raises from connect().
bad = apivideo.AuthenticatedApiClient("not-a-real-key-000")
bad.configuration.host = base_url
fails(bad.connect, ApiException, 400, "authentication-invalid-user-credentials")
# No Authorization at all (a plain ApiClient): 401, the client's UnauthorizedException.
with ApiClient(Configuration(host=base_url)) as anonymous:
    fails(lambda: UploadTokensApi(anonymous).list(), UnauthorizedException, 401,
          "authentication-missing-authorization-header")

client = apivideo.AuthenticatedApiClient(api_key)
client.configuration.host = base_url  # the constructor overwrites it: set it afterwards
client.connect()
used("AuthenticatedApiClient.connect")
with client:  # connects again, and closes the client's pool at the end
    api = UploadTokensApi(client)
    before = api.list().pagination.items_total
    used("UploadTokensApi.list")

    short = api.create_token(TokenCreationPayload(ttl=60))
    long = api.create_token(TokenCreationPayload(ttl=7200))
    never = api.create_token(TokenCreationPayload(ttl=0))
    implicit = api.create_token(TokenCreationPayload())  # body {}: no ttl
    used("UploadTokensApi.create_token")
    mine = [short, long, never, implicit]
    check(len({t.token for t in mine}) == 4, "tokens are distinct")
    for t in mine:
        check(t.token.startswith("to") and len(t.token) == 24 and t.token.isalnum(), f"token id {t.token}")
        check(t.created_at.utcoffset() == timedelta(0), f"createdAt in UTC: {t.created_at}")
    check(short.ttl == 60 and short.expires_at - short.created_at == timedelta(seconds=60),
          f"expiresAt = createdAt + 60: {short}")
    check(long.ttl == 7200 and long.expires_at - long.created_at == timedelta(seconds=7200),
          f"expiresAt = createdAt + 7200: {long}")
    check(never.ttl == 0 and "expires_at" not in never, f"ttl 0 never expires: {never}")
    check(implicit.ttl == 0 and "expires_at" not in implicit, f"no ttl never expires: {implicit}")

    # Out-of-range ttls, past the client's own checks: 400 naming ttl, nothing created.
    for ttl in (-1, 2147483648):
        fails(lambda: api.create_token(lenient(ttl)), ApiException, 400, "invalid-attribute", "ttl")
    # Out-of-range page parameters.
    fails(lambda: api.list(page_size=101), ApiException, 400, "invalid-query-parameter", "pageSize")
    fails(lambda: api.list(page_size=0), ApiException, 400, "invalid-query-parameter", "pageSize")
    fails(lambda: api.list(current_page=0), ApiException, 400, "invalid-query-parameter", "currentPage")

    ids = [t.token for t in mine]

    def order(**kwargs):
        listed = api.list(page_size=100, **kwargs)
        check(listed.pagination.items_total == before + 4, f"itemsTotal {listed.pagination.items_total}")
        return [t.token for t in listed.data if t.token in ids]

    by_ttl = order(sort_by="ttl", sort_order="asc")
    # Never-expiring tokens count as the longest-lived; ties are broken by token id.
    check(by_ttl == [short.token, long.token] + sorted([never.token, implicit.token]), f"ttl asc order: {by_ttl}")
    by_ttl = order(sort_by="ttl", sort_order="desc")
    check(set(by_ttl[:2]) == {never.token, implicit.token} and by_ttl[2:] == [long.token, short.token],
          f"ttl desc order: {by_ttl}")
    check(order(sort_by="createdAt", sort_order="desc") == ids[::-1], "createdAt desc order")
    check(order(sort_by="createdAt", sort_order="asc") == ids, "createdAt asc order")
    check(order() == ids, "default order is createdAt asc")

    # Walk every page, one token a page: no repeats, no gaps, links as the spec has them.
    total = before + 4
    seen = []
    page = 1
    while True:
        listed = api.list(sort_by="createdAt", sort_order="asc", current_page=page, page_size=1)
        p = listed.pagination
        check(p.current_page == page and p.page_size == 1, f"page {page} echo: {p}")
        check(p.items_total == total and p.pages_total == total, f"page {page} totals: {p}")
        check(p.current_page_items == len(listed.data) == 1, f"page {page} items: {p}")
        rels = [l.rel for l in p.links]
        want = ["self", "first"] + (["previous"] if page > 1 else []) + (["next"] if page < total else []) + ["last"]
        check(rels == want, f"page {page} links {rels}, want {want}")
        uris = {l.rel: l.uri for l in p.links}
        q = "/upload-tokens?sortBy=createdAt&sortOrder=asc&currentPage={}&pageSize=1"
        check(uris["self"] == q.format(page), f"self link {uris['self']}")
        check(uris["first"] == q.format(1) and uris["last"] == q.format(total), f"first/last links {uris}")
        if "next" in uris:
            check(uris["next"] == q.format(page + 1), f"next link {uris['next']}")
        if "previous" in uris:
            check(uris["previous"] == q.format(page - 1), f"previous link {uris['previous']}")
        seen.extend(t.token for t in listed.data)
        if "next" not in uris:
            break
        page += 1
    check(page == total, f"walked {page} pages, want {total}")
    check(len(seen) == len(set(seen)) == total, f"pages repeat or skip: {seen}")
    check([t for t in seen if t in ids] == ids, "all created tokens listed, in creation order")
    past = api.list(current_page=total + 1, page_size=1)
    check(past.data == [] and past.pagination.items_total == total, f"page past the last: {past}")

    for t in mine:
        got = api.get_token(t.token)
        check(got.token == t.token and got.ttl == t.ttl and got.created_at == t.created_at,
              f"get {t.token}: {got}")
        check(got.get("expires_at") == t.get("expires_at"), f"get {t.token} expiresAt: {got}")
    used("UploadTokensApi.get_token")

    # A refreshed access token keeps working (and the old refresh token is spent).
    old_refresh = client._refresh_token
    client.refresh_token()
    used("AuthenticatedApiClient.refresh_token")
    check(client._refresh_token != old_refresh, "refresh token rotates")
    check(api.get_token(long.token).token == long.token, "calls work after refresh_token")

    api.delete_token(long.token)
    used("UploadTokensApi.delete_token")
    fails(lambda: api.get_token(long.token), NotFoundException, 404, "resource-not-found", "uploadToken")
    fails(lambda: api.delete_token(long.token), NotFoundException, 404, "resource-not-found", "uploadToken")
    unknown = "to" + "A" * 22
    fails(lambda: api.get_token(unknown), NotFoundException, 404, "resource-not-found", "uploadToken")
    fails(lambda: api.delete_token(unknown), NotFoundException, 404, "resource-not-found", "uploadToken")
    listed = [t.token for t in api.list(page_size=100).data]
    check(long.token not in listed and short.token in listed, "a deleted token leaves the list")
    for t in (short, never, implicit):
        api.delete_token(t.token)
    check(api.list().pagination.items_total == before, "every created token deleted")

    # A token with a policy (SPEC §7), made over plain HTTP (the client has no such fields), and
    # used once: the client still reads it, on get and in a listing.
    import base64
    import urllib.request
    basic = "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()
    policy = {"name": "web", "maxFileBytes": 2147483648, "allowedContentTypes": ["video/*"],
              "maxUploads": 1, "allowedOrigins": ["https://app.example.com"],
              "video": {"title": "From the app", "tags": ["web"]}}
    request = urllib.request.Request(f"{base_url}/upload-tokens", data=json.dumps(policy).encode(),
                                     headers={"Authorization": basic, "Content-Type": "application/json"})
    limited = json.load(urllib.request.urlopen(request))["token"]
    got = api.get_token(limited)
    check(got.token == limited and got.ttl == 0, f"get a token with a policy: {got}")
    listed = [t for t in api.list(page_size=100).data if t.token == limited]
    check(len(listed) == 1 and listed[0].ttl == 0, f"list a token with a policy: {listed}")
    api.delete_token(limited)

check(methods == EXPECTED_METHODS, f"methods used {sorted(methods)}, want {sorted(EXPECTED_METHODS)}")
print(f"python client: {len(methods)} methods, {tally.checks} checks passed: {', '.join(sorted(methods))}")
