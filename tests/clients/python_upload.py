"""The official Python client's token uploads, unchanged: upload_with_upload_token (chunked at
5 MiB, no videoId after the first chunk) and a progressive session. Prints one JSON line per
upload: {"method": ..., "videoId": ...}.
Usage: python_upload.py BASE_URL UPLOAD_TOKEN FILE PART1 PART2"""
import json
import sys

from apivideo.api_client import ApiClient
from apivideo.configuration import Configuration
from apivideo.api.videos_api import VideosApi

base_url, token, whole, part1, part2 = sys.argv[1:6]

configuration = Configuration(host=base_url, chunk_size=5 * 1024 * 1024)
with ApiClient(configuration) as client:
    videos = VideosApi(client)
    with open(whole, "rb") as f:
        video = videos.upload_with_upload_token(token, f)
    print(json.dumps({"method": "upload_with_upload_token", "videoId": video.video_id}))

    session = videos.create_upload_with_upload_token_progressive_session(token)
    with open(part1, "rb") as f:
        session.uploadPart(f)
    with open(part2, "rb") as f:
        video = session.uploadLastPart(f)
    print(json.dumps({"method": "progressive_session", "videoId": video.video_id}))
