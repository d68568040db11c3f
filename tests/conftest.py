"""Suite-wide settings. Hypothesis runs derandomized and without per-example deadlines: the
suite must give the same verdict on every run of CI on a busy 2-core machine; randomized search
for new counterexamples is for local runs (`HYPOTHESIS_PROFILE=explore`)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
