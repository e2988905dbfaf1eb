"""`python -m gateway.healthcheck`: exit 0 when this container's botgate is ready.

The container health check (Dockerfile, docker-compose.yml): GET /readyz on the local port
(BOTGATE_PORT, default 8080), which answers 200 only when the database answers, migrations
are current and the bus is connected.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('BOTGATE_PORT', '8080')}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
