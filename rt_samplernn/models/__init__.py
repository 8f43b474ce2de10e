"""Models shipped inside the package (the demo bundle)."""

from pathlib import Path

DEMO_BUNDLE = Path(__file__).parent / "demo"
