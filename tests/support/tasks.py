"""Job tasks used only by the tests of the job machinery (a real worker loads them with
`--include tests.support.tasks`)."""

from __future__ import annotations

import time
from pathlib import Path

from eventapp.core.errors import ValidationFailed
from eventapp.core.jobs import JobProgress
from eventapp.core.queue import job_task


@job_task("tests.count_to")
def count_to(progress: JobProgress, total: int, pause: float = 0.0,
             started_flag: str | None = None) -> dict[str, int]:
    """Counts to `total` in batches of one, reporting progress; touches `started_flag` first."""
    if started_flag:
        Path(started_flag).write_text(str(time.time()))
    for done in range(1, total + 1):
        time.sleep(pause)
        progress.update(done, total, message=f"{done} of {total}", force=True)
    return {"counted": total}


@job_task("tests.refuse")
def refuse(progress: JobProgress) -> None:
    raise ValidationFailed("The file has no header row: add one and upload it again.")


@job_task("tests.crash")
def crash(progress: JobProgress) -> None:
    raise RuntimeError("secret internal detail")
