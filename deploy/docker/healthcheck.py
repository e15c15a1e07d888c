"""The image's HEALTHCHECK: GET /healthz (or the path given) of the service JIPH_SERVICE names.

Python's urllib, since the slim image has no curl. Exit 0 on HTTP 200, 1 otherwise.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_PORTS = {"intake": 8001, "triage": 8002, "deployment": 8003, "reporting": 8004}
TIMEOUT_S = 3.0


def main(argv: list[str]) -> int:
    service = os.environ.get("JIPH_SERVICE", "")
    if service not in DEFAULT_PORTS:
        print(f"healthcheck: unknown JIPH_SERVICE {service!r}", file=sys.stderr)
        return 1
    port = os.environ.get(f"JIPH_{service.upper()}_PORT") or str(DEFAULT_PORTS[service])
    path = argv[1] if len(argv) > 1 else "/healthz"
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    except (OSError, ValueError) as err:
        print(f"healthcheck: {url}: {err}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
