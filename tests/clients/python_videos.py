"""The official Python client's video methods on videos it uploads with an upload token:
VideosApi.get, update (PATCH title, description, tags, metadata, public, panoramic,
mp4_support), get_status (while uploading and once uploaded) and delete; the stored bytes
(assets.mp4) against the files; NotFoundException / ApiException / UnauthorizedException for
unknown or deleted videos, bad attributes, and deleted or expired tokens.
Prints one JSON line per video: {"kept" | "deleted": videoId, "file": "small" | "whole"}.
Usage: python_videos.py BASE_URL API_KEY SMALL PART1 PART2"""
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

import apivideo
from apivideo.api.upload_tokens_api import UploadTokensApi
from apivideo.api.videos_api import VideosApi
from apivideo.api_client import ApiClient
from apivideo.configuration import Configuration
from apivideo.exceptions import ApiException, NotFoundException, UnauthorizedException
from apivideo.model.metadata import Metadata
from apivideo.model.token_creation_payload import TokenCreationPayload
from apivideo.model.video_update_payload import VideoUpdatePayload

import tally
from tally import check, fails, methods, used

base_url, api_key, small, part1, part2 = sys.argv[1:6]
EXPECTED_METHODS = {"VideosApi.get", "VideosApi.update", "VideosApi.get_status", "VideosApi.delete"}




def sha256(data):
    return hashlib.sha256(data).hexdigest()


def download(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def stored(video, expected, what):
    """assets.mp4 downloads `expected`, byte for byte."""
    url = video.assets.get("mp4")
    check(url is not None, f"{what}: no assets.mp4: {video}")
    data = download(url)
    check(len(data) == len(expected) and sha256(data) == sha256(expected),
          f"{what}: stored {len(data)} bytes ({sha256(data)}), want {len(expected)} ({sha256(expected)})")
    return url


def status_is(video_id, status, parts, total, size):
    """get_status: ingest.status, receivedParts {parts, total} and receivedBytes."""
    st = videos.get_status(video_id)
    methods.add("VideosApi.get_status")
    ingest = st.ingest
    check(ingest.status == status, f"{video_id}: ingest.status {ingest.status}, want {status}")
    rp = ingest.received_parts
    check(rp.parts == parts, f"{video_id}: receivedParts.parts {rp.parts}, want {parts}")
    check(rp.get("total") == total, f"{video_id}: receivedParts.total {rp.get('total')}, want {total}")
    ranges = [(r["_from"], r.to, r.get("total")) for r in ingest.received_bytes]
    want = [(0, size - 1, size if status == "uploaded" else None)]
    check(ranges == want, f"{video_id}: receivedBytes {ranges}, want {want}")
    if status == "uploaded":
        check(ingest.get("filesize") == size, f"{video_id}: filesize {ingest.get('filesize')}, want {size}")
    check(st.encoding.playable is False, f"{video_id}: not transcoded, so not playable: {st.encoding}")
    return st


with open(small, "rb") as f:
    small_bytes = f.read()
with open(part1, "rb") as f:
    part1_bytes = f.read()
with open(part2, "rb") as f:
    part2_bytes = f.read()
whole_bytes = part1_bytes + part2_bytes

client = apivideo.AuthenticatedApiClient(api_key)
client.configuration.host = base_url  # the constructor overwrites it: set it afterwards
uploads = ApiClient(Configuration(host=base_url, chunk_size=5 * 1024 * 1024))  # token only
with client, uploads:
    videos = VideosApi(client)
    tokens = UploadTokensApi(client)
    uploader = VideosApi(uploads)
    token = tokens.create_token(TokenCreationPayload(ttl=600)).token

    # A small file in one request: `part 1/1`.
    with open(small, "rb") as f:
        one = uploader.upload_with_upload_token(token, f)
    status_is(one.video_id, "uploaded", [1], 1, len(small_bytes))

    # A progressive session, looked at between its parts.
    session = uploader.create_upload_with_upload_token_progressive_session(token)
    with open(part1, "rb") as f:
        vid = session.uploadPart(f).video_id
    status_is(vid, "uploading", [1], None, len(part1_bytes))
    pending = videos.get(vid)
    methods.add("VideosApi.get")
    check(pending.video_id == vid and "mp4" not in pending.assets, f"incomplete: no assets.mp4: {pending}")
    check("published_at" not in pending, f"incomplete: not published: {pending}")
    with open(part2, "rb") as f:
        two = session.uploadLastPart(f)
    check(two.video_id == vid, "the session completes its video")
    status_is(vid, "uploaded", [1, 2], 2, len(whole_bytes))

    for video, expected, name in ((one, small_bytes, small), (two, whole_bytes, part1)):
        got = videos.get(video.video_id)
        what = f"get {video.video_id}"
        check(got.video_id == video.video_id and got.title == os.path.basename(name), f"{what}: {got}")
        check(got.tags == [] and got.metadata == [], f"{what}: no tags or metadata yet: {got}")
        check(got.public is True and got.panoramic is False and got.mp4_support is True,
              f"{what}: api.video's defaults (public, not panoramic, mp4Support): {got}")
        check(got.source.uri == f"/videos/{video.video_id}/source" and got.source.type == "upload",
              f"{what}: source {got.source}")
        check(got.created_at <= got.updated_at and got.created_at <= got.published_at,
              f"{what}: dates {got.created_at} {got.updated_at} {got.published_at}")
        stored(got, expected, what)

    # PATCH every editable attribute at once.
    vid = one.video_id
    before = videos.get(vid)
    payload = VideoUpdatePayload(
        title="Renamed clip",
        description="A clip uploaded with a delegated token",
        tags=["tokens", "client"],
        metadata=[Metadata(key="client", value="python"), Metadata(key="suite", value="official")],
        public=False,
        panoramic=True,
        mp4_support=False,
    )
    updated = videos.update(vid, payload)
    methods.add("VideosApi.update")
    for video, what in ((updated, "update's answer"), (videos.get(vid), "get after update")):
        check(video.title == "Renamed clip" and video.description == "A clip uploaded with a delegated token",
              f"{what}: title/description {video}")
        check(video.tags == ["tokens", "client"], f"{what}: tags {video.tags}")
        check([(m.key, m.value) for m in video.metadata] == [("client", "python"), ("suite", "official")],
              f"{what}: metadata {video.metadata}")
        check(video.public is False and video.panoramic is True and video.mp4_support is False,
              f"{what}: flags {video}")
        check(video.created_at == before.created_at and video.updated_at >= before.updated_at,
              f"{what}: dates {video.created_at} {video.updated_at}")

    # A partial PATCH changes only what it names; arrays are replaced whole.
    partial = videos.update(vid, VideoUpdatePayload(title="Retitled", tags=["only"], mp4_support=True))
    check(partial.title == "Retitled" and partial.tags == ["only"] and partial.mp4_support is True,
          f"partial update: {partial}")
    check(partial.description == "A clip uploaded with a delegated token" and len(partial.metadata) == 2
          and partial.public is False and partial.panoramic is True, f"partial update kept the rest: {partial}")
    cleared = videos.update(vid, VideoUpdatePayload(tags=[], metadata=[], public=True))
    check(cleared.tags == [] and cleared.metadata == [] and cleared.public is True, f"cleared: {cleared}")
    check(cleared.title == "Retitled", f"cleared kept the title: {cleared}")
    stored(videos.get(vid), small_bytes, "after the updates")
    # An invalid attribute (an empty title): 400 naming it, nothing changed.
    fails(lambda: videos.update(vid, VideoUpdatePayload(title="")), ApiException, 400, "invalid-attribute", "title")
    check(videos.get(vid).title == "Retitled", "a refused PATCH changes nothing")
    print(json.dumps({"kept": vid, "file": "small"}), flush=True)

    # Delete: every video method then answers 404, and the stored object is gone.
    vid = two.video_id
    url = stored(videos.get(vid), whole_bytes, "before delete")
    videos.delete(vid)
    methods.add("VideosApi.delete")
    fails(lambda: videos.get(vid), NotFoundException, 404, "resource-not-found")
    fails(lambda: videos.get_status(vid), NotFoundException, 404, "resource-not-found")
    fails(lambda: videos.update(vid, VideoUpdatePayload(title="x")), NotFoundException, 404, "resource-not-found")
    fails(lambda: videos.delete(vid), NotFoundException, 404, "resource-not-found")
    try:
        data = download(url)
        raise AssertionError(f"deleted video {vid}: assets.mp4 still serves {len(data)} bytes")
    except urllib.error.HTTPError as e:
        check(e.code in (403, 404), f"deleted video {vid}: assets.mp4 answers {e.code}")
    print(json.dumps({"deleted": vid, "file": "whole"}), flush=True)
    unknown = "vi" + "A" * 22
    for call in (videos.get, videos.get_status, videos.delete):
        fails(lambda: call(unknown), NotFoundException, 404, "resource-not-found")

    # A video deleted while its upload is in progress: the next part is refused with a 404.
    session = uploader.create_upload_with_upload_token_progressive_session(token)
    with open(small, "rb") as f:
        vid = session.uploadPart(f).video_id
    videos.delete(vid)
    with open(small, "rb") as f:
        fails(lambda: session.uploadLastPart(f), NotFoundException, 404, "uploaded-file-video-not-found", "videoId")
    print(json.dumps({"deleted": vid, "file": "small"}), flush=True)

    # Deleted and expired tokens upload nothing.
    tokens.delete_token(token)
    short = tokens.create_token(TokenCreationPayload(ttl=1)).token
    time.sleep(2.1)
    for dead in (token, short):
        with open(small, "rb") as f:
            body = fails(lambda: uploader.upload_with_upload_token(dead, f), UnauthorizedException, 401, "authentication-invalid-upload-token")
        check(body["type"].endswith("/authentication-invalid-upload-token"), f"token {dead}: {body}")

check(methods == EXPECTED_METHODS, f"methods used {sorted(methods)}, want {sorted(EXPECTED_METHODS)}")
print(f"python client: {len(methods)} video methods, {tally.checks} checks passed: {', '.join(sorted(methods))}")
