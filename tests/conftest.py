import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
PHOTO = DATA / "tubingen.jpg"
PHOTO2 = DATA / "chelsea.png"
STYLE = DATA / "starry_night.jpg"
STYLE2 = DATA / "the_scream.jpg"

# Tiny and fast, one scale unless a test asks for coarse-to-fine.
TINY = dict(size=48, iterations=8, coarse_iterations=4, min_size=None, device="cpu")


def tiny(**overrides):
    from nst_core import preset

    return preset("default", **{**TINY, **overrides})


def run_cli(*args, check=False):
    """The real `nst` console script in a fresh process."""
    nst = Path(sys.executable).parent / "nst"
    result = subprocess.run([str(nst), *map(str, args)], capture_output=True, text=True, env={**os.environ})
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def cli(capsys):
    """Run `nst` in-process (same code path as the console script, without torch start-up)."""
    from nst_core.cli import main

    def run(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse errors
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return run
