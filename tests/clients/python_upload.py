"""The official Python client's token uploads, unchanged: upload_with_upload_token (a small file
in one request, `part 1/1`; a large one chunked at 5 MiB, no videoId after the first chunk) and
progressive sessions (create_upload_with_upload_token_progressive_session, uploadPart,
uploadLastPart; one resumed with its videoId), plus the UnauthorizedException of bad tokens.
Prints one JSON line per upload: {"method", "videoId", "file": "small" | "whole"}.
Usage: python_upload.py BASE_URL UPLOAD_TOKEN SMALL WHOLE PART1 PART2 (WHOLE = PART1 + PART2)
With UPLOAD_TOKENS_BEHIND_API_GATEWAY=1 (API Gateway in front of the functions) the chunked upload
must be refused with 413: the client's smallest chunk (5 MiB) is over what one request carries
there (about 4.5 MiB of file); the sessions' parts are then 4 MiB each."""
import json
import os
import sys

from apivideo.api_client import ApiClient
from apivideo.configuration import Configuration
from apivideo.api.videos_api import VideosApi
from apivideo.exceptions import ApiException, UnauthorizedException

import tally
from tally import check, fails, methods, used

base_url, token, small, whole, part1, part2 = sys.argv[1:7]
behind_gateway = os.environ.get("UPLOAD_TOKENS_BEHIND_API_GATEWAY") == "1"
CHUNK = 5 * 1024 * 1024
EXPECTED_METHODS = {
    "VideosApi.upload_with_upload_token",
    "VideosApi.create_upload_with_upload_token_progressive_session",
    "ProgressiveSession.uploadPart",
    "ProgressiveSession.uploadLastPart",
}
video_ids = set()




def complete(video, method, file, title):
    """A finished upload: a new video named after the file, with its mp4 asset."""
    check(video is not None, f"{method}: no video returned")
    vid = video.video_id
    check(vid.startswith("vi") and len(vid) == 24 and vid.isalnum(), f"{method}: videoId {vid}")
    check(vid not in video_ids, f"{method}: videoId {vid} reused")
    video_ids.add(vid)
    check(video.title == title, f"{method}: title {video.title!r}, want {title!r}")
    check(video.source.uri == f"/videos/{vid}/source", f"{method}: source {video.source}")
    check(bool(video.assets.get("mp4")), f"{method}: no assets.mp4 once complete: {video}")
    print(json.dumps({"method": method, "videoId": vid, "file": file}), flush=True)


size = os.path.getsize(whole)
check(os.path.getsize(small) < CHUNK < size, "SMALL must fit in one chunk, WHOLE must not")
check(os.path.getsize(part1) + os.path.getsize(part2) == size, "WHOLE = PART1 + PART2")

configuration = Configuration(host=base_url, chunk_size=CHUNK)
with ApiClient(configuration) as client:
    videos = VideosApi(client)

    # Bad tokens: 401 whatever the file, nothing created.
    for bad, slug in ((f"to{'A' * 22}", "authentication-invalid-upload-token"),
                      ("", "authentication-missing-upload-token")):
        try:
            with open(small, "rb") as f:
                videos.upload_with_upload_token(bad, f)
            raise AssertionError(f"token {bad!r}: upload accepted")
        except UnauthorizedException as e:
            check(e.status == 401, f"token {bad!r}: status {e.status}")
            body = json.loads(e.body)
            check(body["status"] == 401 and body["type"].endswith("/" + slug), f"token {bad!r}: {body}")

    # A small file: one request (Content-Range `part 1/1`).
    with open(small, "rb") as f:
        video = videos.upload_with_upload_token(token, f)
    used("VideosApi.upload_with_upload_token")
    complete(video, "upload_with_upload_token", "small", os.path.basename(small))

    if behind_gateway:
        # A 5 MiB chunk is a ~7 MB event once base64-encoded: API Gateway answers 413 itself.
        try:
            with open(whole, "rb") as f:
                videos.upload_with_upload_token(token, f)
            raise AssertionError("a 5 MiB chunk went through API Gateway")
        except ApiException as e:
            check(e.status == 413, f"chunked upload behind API Gateway: status {e.status}, want 413")
    else:
        # 12 MiB in 5 MiB chunks, reported to the progress listener.
        progress = []
        with open(whole, "rb") as f:
            video = videos.upload_with_upload_token(
                token, f, _progress_listener=lambda sent, total: progress.append((sent, total)))
        # The client reports each chunk before sending it: (bytes sent once it is, file size).
        want = [(min(n * CHUNK, size), size) for n in range(1, -(-size // CHUNK) + 1)]
        check(progress == want, f"progress {progress}, want {want}")
        complete(video, "upload_with_upload_token (chunked)", "whole", os.path.basename(whole))

    # A progressive session: each part a file; the session sends the videoId after the first.
    session = videos.create_upload_with_upload_token_progressive_session(token)
    used("VideosApi.create_upload_with_upload_token_progressive_session")
    with open(part1, "rb") as f:
        first = session.uploadPart(f)
    used("ProgressiveSession.uploadPart")
    check(first.video_id.startswith("vi") and session.video_id == first.video_id,
          f"uploadPart returns the videoId: {first}")
    with open(part2, "rb") as f:
        video = session.uploadLastPart(f)
    used("ProgressiveSession.uploadLastPart")
    check(video.video_id == first.video_id, "the last part completes the same video")
    complete(video, "progressive_session", "whole", os.path.basename(part1))

    # A session resumed with the videoId: it restarts at part 1, which the server already has
    # (same bytes: acknowledged, stored once), then sends the last part.
    session = videos.create_upload_with_upload_token_progressive_session(token)
    with open(part1, "rb") as f:
        first = session.uploadPart(f)
    resumed = videos.create_upload_with_upload_token_progressive_session(token, first.video_id)
    with open(part1, "rb") as f:
        again = resumed.uploadPart(f)
    check(again.video_id == first.video_id, f"re-sent part 1 acknowledged for the same video: {again}")
    with open(part2, "rb") as f:
        video = resumed.uploadLastPart(f)
    check(video.video_id == first.video_id, "the resumed session completes the same video")
    complete(video, "progressive_session (resumed with videoId)", "whole", os.path.basename(part1))

check(methods == EXPECTED_METHODS, f"methods used {sorted(methods)}, want {sorted(EXPECTED_METHODS)}")
print(f"python client: {len(methods)} upload methods, {len(video_ids)} uploads, {tally.checks} checks passed: "
      f"{', '.join(sorted(methods))}")
