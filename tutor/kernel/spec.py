"""Where kernels start from: the private kernelspec (absolute interpreter, ipykernel_launcher), the 0700 runtime
dirs, and the environment a lesson kernel gets. No Textual here."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from tutor.core.config import ENV_KERNEL

KERNEL_NAME = "fm-tutor-python"


def default_runtime_dir() -> Path:
    import warnings

    from platformdirs import user_runtime_dir

    with warnings.catch_warnings():  # "XDG_RUNTIME_DIR is not set": platformdirs falls back to /tmp/runtime-UID
        warnings.simplefilter("ignore")
        return Path(user_runtime_dir("fm-tutor")) / "kernels"


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_kernelspec(directory: Path) -> Path:
    """Write the private kernelspec (absolute interpreter path) under ``directory``; return the specs dir."""
    spec_dir = directory / "kernelspecs" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [os.path.abspath(sys.executable), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fm-tutor (Python)",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return directory / "kernelspecs"


def kernel_env(name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a lesson kernel: this process's, quiet and unbuffered, inline plots, FM_TUTOR_KERNEL."""
    env = dict(os.environ)
    env.update({
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        ENV_KERNEL: name,
    })
    env.pop("JPY_PARENT_PID", None)
    env.update(extra or {})
    return env
