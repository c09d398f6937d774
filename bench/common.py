"""What every benchmark script starts with: this checkout importable, and its options parser.

Run the scripts as ``python bench/NAME.py``: their folder is then on ``sys.path``, so
``import common`` finds this module, which puts the repository root there too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"  # where CI keeps the shared data, beside the checkout
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An options parser whose help is the script's docstring, as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
