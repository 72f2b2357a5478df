"""What the Python client scripts share: counted checks, the set of client methods used, and the
check that a call fails with the client's typed exception carrying the expected problem+json."""
import json

checks = 0
methods = set()


def check(condition, message):
    global checks
    if not condition:
        raise AssertionError(message)
    checks += 1


def used(name):
    methods.add(name)


def fails(call, exception, status, slug, name=None):
    """Runs call, which must raise `exception` carrying a problem+json of `status` and `slug`."""
    try:
        result = call()
    except exception as e:
        check(e.status == status, f"status {e.status}, want {status}: {e.body!r}")
        content_type = e.headers.get("Content-Type") if e.headers else None
        check(content_type == "application/problem+json", f"problem content type: {content_type}")
        body = json.loads(e.body)
        check(body.get("status") == status, f"problem status: {body}")
        check(body.get("type", "").endswith("/" + slug), f"problem type {body.get('type')}, want {slug}")
        check(bool(body.get("title")), f"problem title: {body}")
        if name is not None:
            check(body.get("name") == name, f"problem name {body.get('name')}, want {name}")
        return body
    raise AssertionError(f"expected {exception.__name__} {status} {slug}, got {result!r}")
