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
