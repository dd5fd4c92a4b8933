"""The test suite.

The seeds, the user documents whose wording the tests hold the code to, are read from shared/seeds beside
the clone (or the folder MEDIASPACE_SEEDS names), never from a path of one machine; a test that needs one
skips, saying where it looked, when it is absent.
"""
import os
from pathlib import Path

SEEDS = Path(os.environ.get("MEDIASPACE_SEEDS") or Path(__file__).resolve().parents[2] / "shared" / "seeds")
