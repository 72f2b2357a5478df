"""Drives the official Python client (PyPI api.video 1.4.7, Bearer via /auth/api-key) through
every upload-token method against a running server. Usage: python_tokens.py BASE_URL API_KEY"""
import sys

import apivideo
from apivideo.api.upload_tokens_api import UploadTokensApi
from apivideo.exceptions import NotFoundException
from apivideo.model.token_creation_payload import TokenCreationPayload

base_url, api_key = sys.argv[1], sys.argv[2]
checks = 0


def check(condition, message):
    global checks
    if not condition:
        raise AssertionError(message)
    checks += 1


client = apivideo.AuthenticatedApiClient(api_key)
client.configuration.host = base_url  # the constructor overwrites it: set it afterwards
with client:
    api = UploadTokensApi(client)
    short = api.create_token(TokenCreationPayload(ttl=60))
    long = api.create_token(TokenCreationPayload(ttl=7200))
    never = api.create_token(TokenCreationPayload(ttl=0))
    check(short.token.startswith("to") and len(short.token) == 24, "token id format")
    check(short.ttl == 60 and short.expires_at is not None, "ttl and expiresAt")
    check(never.ttl == 0 and "expires_at" not in never, "never-expiring token has no expiresAt")

    mine = {short.token, long.token, never.token}
    by_ttl = [t.token for t in api.list(sort_by="ttl", sort_order="asc", page_size=100).data if t.token in mine]
    check(by_ttl == [short.token, long.token, never.token], f"ttl asc order: {by_ttl}")
    by_created = [t.token for t in api.list(sort_by="createdAt", sort_order="desc", page_size=100).data if t.token in mine]
    check(by_created == [never.token, long.token, short.token], f"createdAt desc order: {by_created}")

    first = api.list(page_size=1, current_page=1)
    check(first.pagination.page_size == 1 and first.pagination.current_page == 1, "pagination echo")
    check(first.pagination.items_total >= 3, "items total")
    check([l.rel for l in first.pagination.links][:2] == ["self", "first"], "links")
    second = api.list(page_size=1, current_page=2)
    check(second.data[0].token != first.data[0].token, "pages differ")

    got = api.get_token(long.token)
    check(got.token == long.token and got.ttl == 7200, "get")
    api.delete_token(long.token)
    try:
        api.get_token(long.token)
        check(False, "deleted token must be 404")
    except NotFoundException as e:
        check(e.status == 404, "404 after delete")
    try:
        api.delete_token(long.token)
        check(False, "deleting twice must be 404")
    except NotFoundException:
        check(True, "")
    for token in (short.token, never.token):
        api.delete_token(token)

print(f"python client: {checks} checks passed")
