"""The production configuration builds the real app, and refuses to start on a bad setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "LBP_CDS_DATA_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
         "--chdir", str(ROOT)],
        env=environment, capture_output=True, text=True, timeout=120,
    )


def test_gunicorn_configuration_loads_the_app(tmp_path):
    result = check_config(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_bad_setting_stops_start_up_with_a_message(tmp_path):
    result = check_config(tmp_path, LBP_CDS_RULE_PARAMS='{"NO-SUCH-RULE": {}}')
    assert result.returncode != 0
    assert "NO-SUCH-RULE" in result.stderr
