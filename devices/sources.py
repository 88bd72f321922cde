"""Where a gateway's watts come from. A source has one method, ``read_watts()``, that returns
the machine's power now or raises SourceError (that sample is skipped). Add your own: any
object with that method will do (see devices/README.md)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class SourceError(Exception):
    """The source could not be read this time (the sample is skipped)."""


class Source(Protocol):
    def read_watts(self) -> float: ...


def _watts(text: str, where: str) -> float:
    try:
        value = float(text.strip().split()[-1])
    except (ValueError, IndexError):
        raise SourceError(f"{where} gave {text.strip()[:40]!r}, not a number of watts") from None
    if value != value or value < 0:
        raise SourceError(f"{where} gave {value}, not a number of watts ≥ 0")
    return value


@dataclass(frozen=True)
class FileSource:
    """A number of watts in a file (written by another program, or by a test)."""

    path: Path

    def read_watts(self) -> float:
        try:
            return _watts(self.path.read_text(), str(self.path))
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror}") from None


@dataclass(frozen=True)
class CommandSource:
    """A command that prints watts (its last word), e.g. a script reading an ADC."""

    command: str
    timeout_s: float = 10.0

    def read_watts(self) -> float:
        try:
            done = subprocess.run(self.command, shell=True, capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            raise SourceError(f"{self.command!r} took more than {self.timeout_s:.0f} s") from None
        if done.returncode != 0:
            raise SourceError(f"{self.command!r} failed ({done.returncode}): {done.stderr.strip()[:200]}")
        return _watts(done.stdout, repr(self.command))


@dataclass(frozen=True)
class GpioSource:
    """A GPIO line through /sys/class/gpio: high means the machine runs, worth ``on_w`` watts
    (e.g. an opto-isolated relay contact closed while the laser tube fires)."""

    pin: int
    on_w: float = 1000.0
    active_low: bool = False
    root: Path = Path("/sys/class/gpio")

    def read_watts(self) -> float:
        value = self.root / f"gpio{self.pin}" / "value"
        if not value.exists():
            raise SourceError(f"{value} does not exist: export the pin first (echo {self.pin} > "
                              f"{self.root}/export), or use a command source with gpioget")
        try:
            high = value.read_text().strip() == "1"
        except OSError as exc:
            raise SourceError(f"cannot read {value}: {exc.strerror}") from None
        return self.on_w if high != self.active_low else 0.0
