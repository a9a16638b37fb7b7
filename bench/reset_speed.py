"""How long the plugin's reset between tests takes, for a small state.

    .venv/bin/python bench/reset_speed.py [rounds] [database URL]

A ParleyServer as the ``parley`` fixture runs it (SQLite in a temporary
folder); each round seeds a small state (a service, two roles' worth of
defaults, three users, a channel with three members, an invite and twenty
messages), then times ``ParleySession.reset()`` (POST /parley/v1/reset) as the
fixture calls it. Prints the median and the worst; no assertion.
"""

import statistics
import sys
import time

import httpx

from parley.testing import ParleyServer

SEED = """
services:
  - friendly_name: small
    users: [{identity: alice}, {identity: bob}, {identity: carol}]
    channels:
      - unique_name: general
        members: [alice, bob, carol]
        invites: [dave]
        messages:
"""
SEED += "".join(f"          - {{from: alice, body: message {n}}}\n" for n in range(20))


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    database_url = sys.argv[2] if len(sys.argv) > 2 else None
    with ParleyServer(database_url) as server:
        creds = server.create_credentials()
        auth = (creds.account_sid, creds.auth_token)
        timings = []
        with httpx.Client(base_url=server.url, auth=auth) as http:
            for _ in range(rounds):
                seeded = http.post(
                    "/parley/v1/seed", content=SEED, headers={"Content-Type": "application/yaml"}
                )
                seeded.raise_for_status()
                started = time.perf_counter()
                server.reset(creds)
                timings.append((time.perf_counter() - started) * 1000)
                assert http.get("/v2/Services").json()["services"] == []
    print(
        f"reset of a small state over {rounds} rounds: median {statistics.median(timings):.1f} ms,"
        f" worst {max(timings):.1f} ms"
    )


if __name__ == "__main__":
    main()
