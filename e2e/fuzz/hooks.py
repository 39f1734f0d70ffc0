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


# An auth provider, not a map_query hook: schemathesis then knows the token is a valid one it was
# given (not one it generated), and its own probes without a token or with an invalid one are sent as
# they are. No caching (refresh_interval=None): every token is one-time.
@schemathesis.auth(refresh_interval=None).apply_to(
    path=["/v1/runtimes/signingRequests/info", "/v1/runtimes/certificates"]
)
class OneTimeToken:
    def get(self, case, ctx):
        if case.operation.path.endswith("/signingRequests/info"):
            return _info_token()
        # A CSR token: the CSR info call hands one out in csrUrl.
        url = _post_info(_info_token())
        return parse_qs(urlparse(url).query)["token"][0]

    def set(self, case, data, ctx):
        case.query = {**(case.query or {}), "token": data}


def _post_info(token):
    base = os.environ["TETHER_FUZZ_PUBLIC_URL"]
    import ssl

    context = ssl.create_default_context(cafile=os.environ["TETHER_FUZZ_CA"])
    with urllib.request.urlopen(f"{base}/v1/runtimes/signingRequests/info?token={token}", context=context, timeout=10) as r:
        return json.loads(r.read())["csrUrl"]
