"""Top-level pytest set-up shared by tests/ and benchmarks/: hypothesis profiles.

``HYPOTHESIS_PROFILE=dev`` (default) draws few examples; ``ci`` (chosen automatically when
``CI=true``) is derandomized and draws more.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))


import pytest  # noqa: E402


@pytest.fixture
def need_data():
    """``need_data("fashion-mnist", ...)``: skip when a dataset is missing, fail under CI=true."""
    from dl_assign import data

    def need(*names: str) -> None:
        missing = [n for n in names if not data.available(n)]
        if missing:
            message = f"datasets missing: {missing} (see `dl-assign data`)"
            if os.environ.get("CI") == "true":
                pytest.fail(message + "; under CI a missing dataset is a failure, never a skip")
            pytest.skip(message)

    return need
