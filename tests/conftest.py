"""tests/ only: no test writes the real model store (``DL_ASSIGN_MODELS`` points to a temporary folder)."""

import pytest


@pytest.fixture(autouse=True)
def _temporary_model_store(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DL_ASSIGN_MODELS", str(tmp_path_factory.mktemp("models")))
