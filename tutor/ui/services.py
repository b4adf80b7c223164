"""What the app is built with: the configuration, the course, the progress store, the model server and the kernel
pool's factory. The command line builds these (:func:`build_services`) and hands them to ``TutorApp``; nothing is
passed through ``os.environ``.

The kernel pool and the model server are handed over as factories: the app calls the pool's when the first lesson
opens and the server's when it starts the server, a second after the first paint. Building them imports
jupyter_client (and starts its loop thread) and the server's HTTP and process machinery, which would otherwise delay
the first paint of the home screen.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutor.core.config import (
    ENV_MODEL_SERVER,
    ENV_SPARE_KERNEL,
    Config,
    ConfigError,
    env_flag,
    load_config,
)
from tutor.course import Course, load_course
from tutor.progress import ProgressStore, default_db_path


@dataclass
class Services:
    config: Config
    course: Course
    store: ProgressStore
    kernels: Callable[[], Any]  # -> tutor.kernel.KernelPool, called once, when the first lesson opens
    # -> tutor.backend.supervisor.ModelServer (not started), called once, when the app starts it; None: no local server
    model_server: Callable[[], Any] | None = None
    config_error: str | None = None  # a broken config file: the app runs on defaults and says so
    detach_idle: float = 0.0  # > 0: kernels and the model server outlive the app this long
    notes: list[str] = field(default_factory=list)


def build_services(*, config: Config | None = None, course: Course | None = None, store: ProgressStore | None = None,
                   data_dir: Path | None = None, content: Path | None = None,
                   overrides: dict[str, tuple[Any, str]] | None = None) -> Services:
    """The app's dependencies from the settings (file, env, ``overrides`` from the command line)."""
    config_error = None
    if config is None:
        try:
            config = load_config(overrides=overrides)
        except ConfigError as e:  # a broken config file: run on defaults and say so
            config = load_config(path=Path("/nonexistent/fm-tutor.toml"), env={}, overrides=overrides)
            config_error = str(e)
    course = course or load_course(content)
    if store is None:
        db = Path(data_dir) / "progress.db" if data_dir else default_db_path()
        store = ProgressStore(db, fuzz_reviews=config.review.fuzzing)
    host = config.kernel.host.strip() or None
    # remote kernels stop with the app (the agent ends them when the connection drops), and so does the model
    detach_idle = 0.0 if host else float(config.kernel.detach_idle)

    def kernels():
        from tutor.kernel import KernelPool
        from tutor.kernel.remote import RemoteHost

        return KernelPool(keep_alive=float(config.kernel.keep_alive), spare=env_flag(ENV_SPARE_KERNEL, True),
                          detach_idle=detach_idle, remote=RemoteHost.from_config(config) if host else None)

    def model_server():
        from tutor.backend.supervisor import ModelServer

        return ModelServer(config, detach_idle=detach_idle)

    server = model_server if host is None and env_flag(ENV_MODEL_SERVER, True) else None
    return Services(config=config, course=course, store=store, kernels=kernels, model_server=server,
                    config_error=config_error, detach_idle=detach_idle)
