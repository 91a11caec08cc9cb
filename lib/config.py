"""Where things live. Paths come from the repository, never the working directory."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUNDLED_DATA = REPO / "data"
BUNDLED_TARGETS = BUNDLED_DATA / "targets.xlsx"
GEOJSON = BUNDLED_DATA / "geo" / "jining_counties.geojson"

# Limits on uploads (also documented in docs/SECURITY.md).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # also server.maxUploadSize in .streamlit/config.toml
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024  # sum of a workbook's parts once inflated
MAX_PART_BYTES = 20 * 1024 * 1024
MAX_ZIP_PARTS = 200
MAX_COMPRESSION_RATIO = 200
MAX_SHEET_ROWS = 9999  # 5-digit row references are refused by one regex pass
MAX_SHEET_COLUMNS = 50

# On-site photos attached to ledger items (lib/ledger.py): PNG/JPG only, re-encoded as JPEG.
MAX_PHOTO_BYTES = 8 * 1024 * 1024  # per photo as uploaded (a phone camera's JPEG is 2-6 MB)
MAX_PHOTO_PIXELS = 50_000_000  # decoded size cap (a decompression bomb is refused before decoding)
PHOTO_EDGE = 1600  # longest side kept, in pixels


def data_dir() -> Path:
    """The data folder: $LIVELIHOOD_DATA_DIR if set, else the repository's data/."""
    return Path(os.environ.get("LIVELIHOOD_DATA_DIR") or BUNDLED_DATA)


def demo_requested(folder: Path) -> bool:
    """Whether the app may build the demo into ``folder`` by itself: only the bundled data folder, or any folder
    with LIVELIHOOD_DEMO=1 (LIVELIHOOD_DEMO=0 turns it off everywhere), and never after an administrator cleared
    the demo there (``demo.off``). A configured production folder never gets demo figures by itself."""
    setting = os.environ.get("LIVELIHOOD_DEMO", "").strip().lower()
    if setting in ("0", "false", "no", "off") or (Path(folder) / "demo.off").exists():
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    return Path(folder).resolve() == BUNDLED_DATA.resolve()
