"""What the global options of the command line mean for every command: the course directory, the progress
database, and settings given on the command line (``--kernel-host``). Commands take them from here, explicitly;
nothing is handed on through ``os.environ``."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutor.core.config import ENV_CONTENT, Config, env_value, load_config


@dataclass
class CliContext:
    content: Path | None = None  # --content, or FM_TUTOR_CONTENT; None: the installed course
    data_dir: Path | None = None  # --data-dir; None: FM_TUTOR_DATA_DIR or the user data dir
    overrides: dict[str, tuple[Any, str]] = field(default_factory=dict)  # settings given as options

    def config(self) -> Config:
        return load_config(overrides=self.overrides)

    def db_path(self) -> Path | None:
        return self.data_dir / "progress.db" if self.data_dir else None

    def argv(self) -> list[str]:
        """The same global options, for a child `fm-tutor` process (e.g. the one `fm-tutor serve` runs)."""
        out = []
        if self.data_dir:
            out += ["--data-dir", str(self.data_dir)]
        if self.content:
            out += ["--content", str(self.content)]
        if "kernel.host" in self.overrides:
            out += ["--kernel-host", str(self.overrides["kernel.host"][0])]
        return out


def from_args(args: argparse.Namespace) -> CliContext:
    content = getattr(args, "content", None) or env_value(ENV_CONTENT)
    data_dir = getattr(args, "data_dir", None)
    overrides = {}
    if getattr(args, "kernel_host", None):
        overrides["kernel.host"] = (args.kernel_host, "command line --kernel-host")
    return CliContext(content=Path(content).expanduser().resolve() if content else None,
                      data_dir=Path(data_dir).expanduser().resolve() if data_dir else None, overrides=overrides)
