# Loaded by schemathesis through SCHEMATHESIS_HOOKS (tests/tests/schemathesis.rs).
# tus bodies are raw bytes (`application/offset+octet-stream`): send them as schemathesis sends
# `application/octet-stream`.
import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
