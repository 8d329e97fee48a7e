"""Counts checks and prints one line per check, ending with 'packaging: N passed, N failed'."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class CheckFailed(Exception):
    """A check's finding: the message says what is wrong, for a person to fix."""


def require(condition: bool, message: str) -> None:
    """Fail the current check with `message` unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    @contextmanager
    def check(self, name: str) -> Iterator[list[str]]:
        """Runs the body as one check. The body may append short notes to the yielded list."""
        notes: list[str] = []
        try:
            yield notes
        except CheckFailed as failure:
            self.failed += 1
            print(f"FAIL {name}: {failure}", flush=True)
        except Exception:  # noqa: BLE001 (a crash in a check is a failed check, not a crashed run)
            self.failed += 1
            print(f"FAIL {name}: unexpected error", flush=True)
            traceback.print_exc(file=sys.stdout)
        else:
            self.passed += 1
            detail = f" ({'; '.join(notes)})" if notes else ""
            print(f"ok   {name}{detail}", flush=True)

    def run(self, name: str, body: Callable[[], str | None]) -> None:
        """Runs `body` as one check; a returned string is shown as its note."""
        with self.check(name) as notes:
            note = body()
            if note:
                notes.append(note)

    def skip(self, name: str, reason: str) -> None:
        self.skipped += 1
        print(f"skip {name}: {reason}", flush=True)

    def summary(self) -> str:
        line = f"packaging: {self.passed} passed, {self.failed} failed"
        if self.skipped:
            line += f", {self.skipped} skipped"
        return line
