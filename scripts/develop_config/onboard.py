"""Create the development user (dev / dev) through Home Assistant's onboarding API.

scripts/develop runs this next to Home Assistant. It waits until Home Assistant answers and, on
the first start only, performs the onboarding step "user" the way the web UI does. It does
nothing once a user exists.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any
import urllib.error
import urllib.request

USER = {"name": "Developer", "username": "dev", "password": "dev", "language": "en"}
WAIT_S = 600


def _request(url: str, data: dict[str, Any] | None = None) -> Any:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def main(base_url: str) -> int:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            steps = _request(f"{base_url}/api/onboarding")
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                print("scripts/develop: Home Assistant did not answer; no user created")
                return 1
            time.sleep(2)
    if any(step["step"] == "user" and step["done"] for step in steps):
        return 0
    _request(f"{base_url}/api/onboarding/users", {**USER, "client_id": f"{base_url}/"})
    print("scripts/develop: created the user dev (password dev); open http://localhost:8123")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8123"))
