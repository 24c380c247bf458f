"""Create the development user (dev / dev) through Home Assistant's onboarding API.

scripts/develop runs this next to Home Assistant. It waits until Home Assistant answers and, on
the first start only, performs the onboarding step "user" the way the web UI does. It does
nothing once a user exists. Given Home Assistant's process id, it gives up as soon as that
process is gone, so it never outlives Home Assistant by more than one poll.
"""

from __future__ import annotations

import json
import os
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


def _running(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(base_url: str, hass_pid: int | None = None) -> int:
    """Wait for Home Assistant at ``base_url`` and create the user if none exists.

    The exit code is 0 when done, 1 when Home Assistant stopped or gave no answer first.
    """
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            steps = _request(f"{base_url}/api/onboarding")
            break
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return 0  # onboarding is complete: Home Assistant no longer serves it
            raise
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if not _running(hass_pid):
                return 1  # Home Assistant stopped before it answered
            if time.monotonic() > deadline:
                print("scripts/develop: Home Assistant did not answer; no user created")
                return 1
            time.sleep(2)
    if any(step["step"] == "user" and step["done"] for step in steps):
        return 0
    _request(f"{base_url}/api/onboarding/users", {**USER, "client_id": f"{base_url}/"})
    print(f"scripts/develop: created the user dev (password dev); open {base_url}")
    return 0


if __name__ == "__main__":
    sys.exit(
        main(
            sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8123",
            int(sys.argv[2]) if len(sys.argv) > 2 else None,
        )
    )
