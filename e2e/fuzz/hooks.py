"""Schemathesis hooks for the tether hub: every token route gets a fresh, valid one-time token (or a
bootstrap token), minted through the internal API with the admin token, so that the fuzzer reaches
past the token check. TETHER_FUZZ_INTERNAL_URL and TETHER_FUZZ_ADMIN_TOKEN come from e2e/fuzz/run.ts."""
import json
import os
import urllib.request
from urllib.parse import parse_qs, urlparse

import schemathesis

INTERNAL = os.environ["TETHER_FUZZ_INTERNAL_URL"]
ADMIN = os.environ["TETHER_FUZZ_ADMIN_TOKEN"]


def _post(path, body, headers=None):
    request = urllib.request.Request(
        INTERNAL + path,
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {ADMIN}", "content-type": "application/json", **(headers or {})},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _info_token():
    return _post("/v1/runtimes/tokens", {"runtime": "fuzz-edge"}, {"tenant": "fuzz", "group": "fuzz"})["token"]


@schemathesis.hook
def map_query(ctx, query):
    if query is None or "token" not in query:
        return query
    path = ctx.operation.path
    if path.endswith("/signingRequests/info"):
        query["token"] = _info_token()
    elif path == "/v1/runtimes/certificates":
        # A CSR token: the CSR info call hands one out in csrUrl.
        url = _post_info(_info_token())
        query["token"] = parse_qs(urlparse(url).query)["token"][0]
    return query


def _post_info(token):
    base = os.environ["TETHER_FUZZ_PUBLIC_URL"]
    import ssl

    context = ssl.create_default_context(cafile=os.environ["TETHER_FUZZ_CA"])
    with urllib.request.urlopen(f"{base}/v1/runtimes/signingRequests/info?token={token}", context=context, timeout=10) as r:
        return json.loads(r.read())["csrUrl"]
