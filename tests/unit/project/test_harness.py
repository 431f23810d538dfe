"""testkit/harness.py is shared with the benchmarks: importing it must not configure Streamlit."""

import os
import subprocess
import sys

from testkit.harness import PROJECT_ROOT


def test_importing_the_harness_leaves_streamlit_configured_as_in_production():
    # The test session sets full error details (tests/conftest.py); a benchmark must not.
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("STREAMLIT_")
    }
    probe = (
        "import os, testkit.harness, bench.timing; "
        "print(sorted(name for name in os.environ if name.startswith('STREAMLIT_')))"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert output.strip() == "[]"
    assert os.environ["STREAMLIT_CLIENT_SHOW_ERROR_DETAILS"] == "full"
