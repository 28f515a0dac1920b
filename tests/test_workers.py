import gc
import threading
import weakref

import pytest
from PySide6.QtCore import QCoreApplication

from gpt_studio.engine.errors import StudioError
from gpt_studio.workers import Job, running_jobs


def test_a_job_runs_off_the_gui_thread_and_relays_progress_and_result(qtbot):
    seen_threads = []

    def work(reporter):
        seen_threads.append(threading.get_ident())
        for i in range(5):
            reporter.progress(i + 1, 5, f"step {i + 1}", force=True)
        return 42

    job = Job(work, "counting")
    progress = []
    job.progressed.connect(lambda done, total, msg: progress.append((done, total, msg)))
    with qtbot.waitSignal(job.succeeded, timeout=5000) as blocker:
        job.start()
    assert blocker.args == [42]
    assert seen_threads[0] != threading.get_ident()
    qtbot.waitUntil(lambda: progress and progress[-1] == (5.0, 5.0, "step 5"))
    job.wait()
    qtbot.waitUntil(lambda: job not in running_jobs())


def test_a_user_error_becomes_a_one_line_reason_without_details(qtbot):
    def work(reporter):
        raise StudioError("the file x.csv has no column 'text'")

    job = Job(work, "the import")
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        job.start()
    assert blocker.args == ["the file x.csv has no column 'text'", ""]
    job.wait()


def test_a_bug_becomes_a_reason_with_the_traceback_as_details(qtbot):
    def work(reporter):
        return 1 / 0

    job = Job(work, "the import")
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        job.start()
    reason, details = blocker.args
    assert reason.startswith("The import failed") and "ZeroDivisionError" in details
    job.wait()


def test_cancel_is_cooperative_and_reported(qtbot):
    started = threading.Event()

    def work(reporter):
        started.set()
        while True:
            reporter.check()

    job = Job(work, "spinning")
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        job.start()
        assert started.wait(5)
        job.cancel()
    qtbot.waitUntil(lambda: not job.is_running, timeout=5000)
    assert job.wait()


@pytest.mark.parametrize("path", ["gpt_studio/workers/job.py", "gpt_studio/workers/__init__.py",
                                  "gpt_studio/workers/threaded.py", "gpt_studio/workers/run_history.py"])
def test_workers_use_qtcore_only(path):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / path).read_text()
    assert "QtWidgets" not in text and "QtGui" not in text and "gpt_studio.ui" not in text


def test_waiting_for_a_job_on_the_gui_thread_returns_when_it_ends(qtbot):
    job = Job(lambda reporter: 7, "quick")
    job.start()
    assert job.wait(5000), "finished must quit the thread without needing the GUI event loop"


def test_a_finished_job_hands_its_worker_back_to_the_gui_thread_and_lets_go_of_its_function_there(qtbot):
    freed_on = []

    class Owner:  # stands for a GUI object whose bound method is the job's function (a history loader)
        def work(self, reporter):
            return 3

        def __del__(self):
            freed_on.append(threading.get_ident())

    owner = Owner()
    gone = weakref.ref(owner)
    gc.disable()  # only reference counting may free it: the point is where, not whether, it goes
    try:
        job = Job(owner.work, "owned")
        del owner
        with qtbot.waitSignal(job.finished, timeout=5000):
            job.start()
        assert gone() is None and freed_on == [threading.get_ident()]  # let go of on the GUI thread
        assert job._worker.thread() == QCoreApplication.instance().thread()
        assert job.wait(5000) and not job.is_running
    finally:
        gc.enable()


def test_a_job_its_owner_deletes_as_it_finishes_is_still_let_go_of(qtbot):
    from gpt_studio.workers import threaded

    for _ in range(20):  # the deletion races the thread's end: try it a few times
        job = Job(lambda reporter: 5, "deleted when done")
        job.finished.connect(job.deleteLater)  # an owner's tidy-up (the fine-tuning data page does this)
        with qtbot.waitSignal(job.finished, timeout=5000):
            job.start()
        assert job not in running_jobs()
        qtbot.waitUntil(lambda job=job: job not in threaded._RUNNING, timeout=5000)  # not kept alive for good
