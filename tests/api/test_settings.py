"""The API's settings come from the environment and fail loudly when malformed."""

import subprocess
import sys

import pytest
from django.conf import settings

from tests.processes import child_env


def load_settings(**env: str) -> subprocess.CompletedProcess:
    code = (
        "from django.conf import settings; print(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**child_env(), "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_throttle_rates_come_from_the_environment():
    result = load_settings(API_THROTTLE_USER="50/minute", API_THROTTLE_ANON="5/day")

    assert result.returncode == 0, result.stderr
    assert "'user': '50/minute'" in result.stdout
    assert "'anon': '5/day'" in result.stdout


@pytest.mark.parametrize("value", ["lots", "10", "10/fortnight", "/hour"])
def test_a_malformed_throttle_rate_stops_start_up_naming_the_variable(value):
    result = load_settings(API_THROTTLE_USER=value)

    assert result.returncode != 0
    assert "API_THROTTLE_USER must look like 1000/hour" in result.stderr
