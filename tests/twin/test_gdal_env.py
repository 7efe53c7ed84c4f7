"""Builds work even when the environment asks GDAL to skip its VRT driver."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from twin.gdal_env import allow_vrt
from twin.workspace import Twin


@pytest.mark.parametrize(
    ("before", "after"),
    [("VRT", None), ("VRT JP2OpenJPEG", "JP2OpenJPEG"), ("HDF4,vrt", "HDF4"), ("HDF4", "HDF4")],
)
def test_allow_vrt_keeps_other_skips(before: str, after: str | None) -> None:
    env = {"GDAL_SKIP": before}
    allow_vrt(env)
    assert env.get("GDAL_SKIP") == after


def test_cli_builds_with_gdal_skip_vrt_inherited(workspace: Path) -> None:
    exe = shutil.which("twin", path=str(Path(sys.executable).parent))
    assert exe is not None
    env = {**os.environ, "GDAL_SKIP": "VRT"}
    done = subprocess.run(
        [exe, "-w", str(workspace), "build", "-j", "2", "--quiet"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert Twin.open(workspace).catalog.layers["dem"].resolution == 100.0
