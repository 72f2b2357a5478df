# Loaded by schemathesis through SCHEMATHESIS_HOOKS (tests/tests/schemathesis.rs).
# tus bodies are raw bytes (`application/offset+octet-stream`): send them as schemathesis sends
# `application/octet-stream`.
import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


# A stateful chain creates a token and then uses it (get, patch, upload, delete). A token created
# with a lifetime of a few seconds may have expired by the next step, and an expired token is
# gone (404, SPEC §1), which schemathesis reads as "created resource not found" (ST302): on
# DynamoDB (moto) a step takes long enough for `ttl: 1` to run out. In stateful chains only,
# such lifetimes become an hour; the other phases still send them, and the Rust tests cover
# expiry itself.
SHORT_TTL_SECONDS = 60
TOKEN_CREATIONS = {"POST /upload-tokens", "POST /v2/tokens"}


def _in_stateful_phase(case) -> bool:
    meta = getattr(case, "_meta", None)
    phase = getattr(meta, "phase", None)
    return type(getattr(phase, "data", None)).__name__ == "StatefulPhaseData"


@schemathesis.hook
def before_call(context, case, kwargs):
    if context.operation is None or context.operation.label not in TOKEN_CREATIONS:
        return
    body = case.body
    if not isinstance(body, dict) or not _in_stateful_phase(case):
        return
    ttl = body.get("ttl")
    if isinstance(ttl, int) and not isinstance(ttl, bool) and 0 < ttl < SHORT_TTL_SECONDS:
        body["ttl"] = 3600
