"""Where the browser tests' screenshots go: a scratch folder, so a test run leaves the
checkout as it was; the README's pictures in docs/images only when asked for with
CLICKSTREAM_UPDATE_SCREENSHOTS=1 (README.md, "Tests")."""

import os
from pathlib import Path

import pytest

README_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("CLICKSTREAM_UPDATE_SCREENSHOTS") == "1":
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        return README_IMAGES
    return tmp_path_factory.mktemp("screenshots")
