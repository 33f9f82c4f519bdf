"""Progress display for long ezkl steps: a spinner per phase on stderr, then one line with its time."""

from __future__ import annotations

from typing import Any

_LABELS = {
    "settings": "generating circuit settings",
    "calibrate": "calibrating scales",
    "compile": "compiling circuit",
    "srs": "generating dev SRS (insecure, once per logrows)",
    "setup": "generating proving and verifying keys",
    "witness": "computing witness",
    "prove": "proving",
    "self_verify": "checking the proof",
    "verify": "verifying",
}


class PhaseProgress:
    """A ``progress(phase, event, seconds)`` callback that draws on stderr (silent when ``quiet``)."""

    def __init__(self, *, quiet: bool = False) -> None:
        from rich.console import Console

        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self._status: Any = None

    def __call__(self, phase: str, event: str, seconds: float) -> None:
        if self.quiet:
            return
        label = _LABELS.get(phase, phase)
        if event == "start":
            self._status = self.console.status(f"{label} ...")
            self._status.start()
        else:
            if self._status is not None:
                self._status.stop()
                self._status = None
            self.console.print(f"  {label:<48} {seconds:7.2f} s")
