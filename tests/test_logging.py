"""gunicorn's error log is JSON with the request id and the worker's pid, like the application's."""

import json
import os
import subprocess
import sys

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.django_db  # The shared autouse fixture empties the cache around each test.

# gunicorn applies logconfig_dict in its arbiter; this does the same in a fresh process, so that
# the test process's own logging is left alone.
LOG_ONE_ERROR = """
import logging.config, os, runpy
from project.request_id import set_request_id
logging.config.dictConfig(runpy.run_path("gunicorn.conf.py")["logconfig_dict"])
set_request_id("abc123")
logging.getLogger("gunicorn.error").error('Error handling request /x "\\\\')
print(os.getpid())
"""


def test_gunicorn_error_lines_are_json_with_the_request_id_and_pid():
    result = subprocess.run(
        [sys.executable, "-c", LOG_ONE_ERROR],
        cwd=ROOT,
        env={**os.environ, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["logger"] == "gunicorn.error"
    assert line["level"] == "ERROR"
    assert line["request_id"] == "abc123"
    assert line["pid"] == int(result.stdout)
    assert line["message"] == 'Error handling request /x "\\'
