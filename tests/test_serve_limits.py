"""`burnguard serve --rate-limit`: started for real, every runtime answer carries integer
X-RateLimit-Remaining and X-RateLimit-Reset headers (read by the unmodified runcycles client),
no tenant gets more than its limit in any one-second window, and a request past it is answered
429 LIMIT_EXCEEDED with Retry-After."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

runcycles = pytest.importorskip("runcycles")
import requests  # noqa: E402
from runcycles import CyclesClient, CyclesConfig  # noqa: E402

KEYS = {"dev": "d" * 40, "other": "o" * 40}
CONFIG = "".join(
    f'[[tenants]]\nname = "{t}"\napi_key_env = "KEY_{t.upper()}"\n'
    f'[[budgets]]\nscope = "tenant:{t}"\nunit = "TOKENS"\nallocated = 100\n'
    for t in KEYS
)


def test_each_tenant_gets_at_most_its_limit_a_second(tmp_path: Path) -> None:
    config = tmp_path / "budgets.toml"
    config.write_text(CONFIG)
    env = {**os.environ, **{f"KEY_{t.upper()}": k for t, k in KEYS.items()}}
    command = [sys.executable, "-m", "burnguard", "serve", "--config", str(config), "--port", "0"]
    process = subprocess.Popen(
        [*command, "--json", "--rate-limit", "5"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    url = json.loads(process.stdout.readline())["url"]
    try:
        with requests.Session() as session:
            answers = [
                session.get(
                    f"{url}/v1/balances", params={"tenant": "dev"}, headers={"X-Cycles-API-Key": KEYS["dev"]}
                )
                for _ in range(40)
            ]
            other = session.get(
                f"{url}/v1/balances", params={"tenant": "other"}, headers={"X-Cycles-API-Key": KEYS["other"]}
            )
        served = Counter(int(a.headers["X-RateLimit-Reset"]) for a in answers if a.status_code == 200)
        assert served and max(served.values()) <= 5, served
        refused = [a for a in answers if a.status_code != 200]
        assert refused, "40 requests in fewer than 8 seconds meet the limit"
        for a in refused:
            assert a.status_code == 429 and a.json()["error"] == "LIMIT_EXCEEDED"
            assert a.headers["Retry-After"] == "1" and a.headers["X-RateLimit-Remaining"] == "0"
        for a in answers:
            assert int(a.headers["X-RateLimit-Remaining"]) in range(5)
        assert other.status_code == 200, "another tenant has its own limit"
        checked = CyclesClient(
            CyclesConfig(base_url=url, api_key=KEYS["other"], tenant="other")
        ).get_balances(tenant="other")
        assert isinstance(checked.rate_limit_remaining, int) and isinstance(checked.rate_limit_reset, int)
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
