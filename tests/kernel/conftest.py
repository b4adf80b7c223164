import shutil
import tempfile
from pathlib import Path

import pytest

from tutor.kernel import KernelPool

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def pool():
    d = tempfile.mkdtemp(prefix="fmk-")  # short path: ipc socket names must stay under ~100 chars
    p = KernelPool(runtime_dir=d)
    yield p
    p.shutdown_all()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def shared(pool):
    """One kernel shared by the tests that leave it usable."""
    k = pool.start("shared")
    k.wait_ready(60)
    return k


_n = [0]


@pytest.fixture
def fresh(pool):
    """A kernel of its own, shut down after the test."""
    _n[0] += 1
    name = f"fresh{_n[0]}"
    k = pool.start(name)
    k.wait_ready(60)
    yield k
    pool.shutdown(name, delay=0).result(20)
