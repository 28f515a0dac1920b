"""Run engine calls off the GUI thread and turn their progress into Qt signals (QtCore only, no widgets).

Dependency rule: ``ui → workers → engine``. A job is any callable taking an engine
:class:`~gpt_studio.engine.progress.Reporter`; the worker relays its throttled progress, result, failure or
cancellation as queued signals, so slots run on the GUI thread and the GUI never blocks on I/O or torch.
"""

from gpt_studio.workers.job import Job, running_jobs

__all__ = ["Job", "running_jobs"]
