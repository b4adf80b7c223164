import shutil
import tempfile
from pathlib import Path

import pytest

from tutor.kernel import KernelPool

FIXTURES = Path(__file__).parent / "fixtures"


def make_pool(**kw):
    """A pool in a short private runtime dir (ipc socket names must stay under ~100 chars), for a fixture to yield
    from; shut down and removed afterwards."""
    d = tempfile.mkdtemp(prefix="fmk-")
    p = KernelPool(runtime_dir=d, **kw)
    yield p
    p.shutdown_all()
    shutil.rmtree(d, ignore_errors=True)


def ready_kernel(pool, name: str):
    k = pool.start(name)
    k.wait_ready(60)
    return k


_n = [0]


def fresh_kernel(pool):
    """A kernel of its own (for a fixture to yield from), shut down afterwards."""
    _n[0] += 1
    name = f"fresh{_n[0]}"
    yield ready_kernel(pool, name)
    pool.shutdown(name, delay=0).result(30)


@pytest.fixture(scope="session")
def pool():
    yield from make_pool()


@pytest.fixture(scope="session")
def shared(pool):
    """One kernel shared by the tests that leave it usable."""
    return ready_kernel(pool, "shared")


@pytest.fixture
def fresh(pool):
    yield from fresh_kernel(pool)
