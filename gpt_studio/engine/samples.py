"""Sample corpora: one built offline from text every Python carries, and a few public-domain downloads.

The offline sample is the standard library's documentation topics (``pydoc_data.topics``: about 80 English
texts, 0.5 MB), so a first project works with no network at all. Downloads stream to a temporary file that
is renamed into place only when complete and (where known) checksum-verified: a cancelled, failed or
tampered download never leaves a file behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpt_studio.engine.atomic import fsync_file, replace_dir, temp_dir_beside, write_text
from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import Project

SOURCES_DIR = "sources"  # = Project.sources_dir's name: text the project was made from (samples, downloads)
SAMPLE_NAME = "python-docs"  # PROJECT/sources/python-docs/: the offline sample, one .txt per topic
SAMPLE_VOCAB = 2000  # fits the 0.5 MB sample (the largest feasible BPE vocabulary is a few thousand)
CHUNK_BYTES = 1 << 16
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SampleSource:
    """A public-domain corpus that "Download sample…" offers."""

    name: str
    url: str
    filename: str
    sha256: str | None  # None: not verifiable offline; the download is then trusted as served
    size: str  # approximate, for the list
    description: str


# Checksums: tiny Shakespeare and War and Peace are pinned to a commit and match the copies in
# ../shared/datasets (whose READMEs give the same digests). The Gutenberg "cache" files are regenerated
# by Project Gutenberg from time to time and could not be checked here (no network), so they carry None.
CATALOG: tuple[SampleSource, ...] = (
    SampleSource(
        name="Tiny Shakespeare",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/"
            "data/tinyshakespeare/input.txt",
        filename="tinyshakespeare.txt", size="1.1 MB",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        description="40,000 lines of Shakespeare's plays; the classic char-rnn / nanoGPT corpus."),
    SampleSource(
        name="War and Peace (Tolstoy, tr. Maude)",
        url="https://raw.githubusercontent.com/lorek/datasets/e2473a4a4bc69f007790cb6a0a5a5f32df64ec55/"
            "war_and_peace.txt",
        filename="war_and_peace.txt", size="3.3 MB",
        sha256="de5c482b0e6dc6a1fb1be7d2c07f92fee994b4eef146747826cc55f1283cce16",
        description="English prose, 563k words (Project Gutenberg #2600, with its header and licence)."),
    SampleSource(
        name="Alice's Adventures in Wonderland",
        url="https://www.gutenberg.org/cache/epub/11/pg11.txt",
        filename="alice_in_wonderland.txt", size="0.2 MB", sha256=None,
        description="Lewis Carroll (Project Gutenberg #11); small enough for a first run."),
    SampleSource(
        name="Pride and Prejudice",
        url="https://www.gutenberg.org/cache/epub/1342/pg1342.txt",
        filename="pride_and_prejudice.txt", size="0.8 MB", sha256=None,
        description="Jane Austen (Project Gutenberg #1342)."),
)


# ------------------------------------------------------------------------------------------ offline sample

def _safe_name(topic: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", topic).strip("-.") or "topic"


def build_sample_corpus(folder: str | os.PathLike[str]) -> Path:
    """Write the Python documentation topics as one .txt per topic into ``folder`` (replaced whole).

    Returns the folder. The texts ship with every CPython, so this needs no network and no data files.
    """
    from pydoc_data.topics import topics

    folder = Path(folder)
    staging = temp_dir_beside(folder)
    try:
        for topic, text in sorted(topics.items()):
            write_text(staging / f"{_safe_name(topic)}.txt", text.strip() + "\n")
        replace_dir(staging, folder)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


class _StageReporter(Reporter):
    """Maps one stage's progress into its share of a multi-stage job; cancelling follows the outer reporter."""

    def __init__(self, outer: Reporter, index: int, count: int, label: str) -> None:
        super().__init__(None)
        self._outer, self._index, self._count, self._label = outer, index, count, label

    def progress(self, done: float, total: float, message: str = "", force: bool = False) -> None:
        """Forward as ``Step k/n``; an indeterminate stage (total 0) stays indeterminate."""
        text = f"Step {self._index + 1}/{self._count} · {message or self._label}"
        if total:
            fraction = (self._index + min(done / total, 1.0)) / self._count
            self._outer.progress(round(fraction * 1000), 1000, text, force=force)
        else:
            self._outer.progress(0, 0, text, force=force)

    def cancel(self) -> None:
        """Cancel the whole job."""
        self._outer.cancel()

    @property
    def cancelled(self) -> bool:
        """Whether the whole job was cancelled."""
        return self._outer.cancelled

    def check(self) -> None:
        """Raise :class:`CancelledError` once the outer job is cancelled."""
        if self._outer.cancelled:
            raise CancelledError(self.what)


def prepare_sample_project(project: Project, reporter: Reporter | None = None,
                           vocab_size: int = SAMPLE_VOCAB) -> dict[str, Any]:
    """Build the offline sample into ``project``: write it, import it, train a BPE tokenizer, encode it.

    Returns ``{"manifest", "tokenizer", "data"}``, the three stages' metadata.
    """
    from gpt_studio.engine.corpus import import_corpus
    from gpt_studio.engine.data import encode_corpus
    from gpt_studio.engine.tokenizer import TokenizerSettings, train_tokenizer

    reporter = reporter or Reporter()
    folder = build_sample_corpus(project.sources_dir / SAMPLE_NAME)
    reporter.check()
    manifest = import_corpus(project, [folder], reporter=_StageReporter(reporter, 0, 3, "Importing"))
    meta = train_tokenizer(project, TokenizerSettings(model_type="bpe", vocab_size=vocab_size),
                           reporter=_StageReporter(reporter, 1, 3, "Training the tokenizer"))
    data = encode_corpus(project, reporter=_StageReporter(reporter, 2, 3, "Encoding"))
    return {"manifest": manifest, "tokenizer": meta, "data": data}


# ---------------------------------------------------------------------------------------------- download

def _open_url(url: str, timeout: float) -> Any:
    from gpt_studio import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"gpt-studio/{__version__}"})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - the user chose the URL
    except urllib.error.HTTPError as exc:
        raise StudioError(f"Download failed: the server answered HTTP {exc.code} ({exc.reason}) for {url}.") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise StudioError(f"Download failed: no answer from {url} within {timeout:g} s.") from exc
        raise StudioError(f"Download failed: could not reach {url} ({exc.reason}). Check the network.") from exc
    except TimeoutError as exc:
        raise StudioError(f"Download failed: no answer from {url} within {timeout:g} s.") from exc
    except ValueError as exc:
        raise StudioError(f"Download failed: {url!r} is not a valid URL ({exc}).") from exc


def download(url: str, dest: str | os.PathLike[str], sha256: str | None = None, reporter: Reporter | None = None,
             timeout: float = TIMEOUT_S) -> Path:
    """Stream ``url`` to ``dest``; the file appears only when complete and matching ``sha256`` (if given).

    Progress is in bytes of the Content-Length (indeterminate without one); ``reporter.check()`` runs between
    chunks, so a cancel stops within one chunk and removes the partial file.
    """
    reporter = reporter or Reporter()
    reporter.what = "the download"
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, _open_url(url, timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            reporter.progress(0, total, f"Downloading {dest.name}", force=True)
            while True:
                reporter.check()
                try:
                    chunk = response.read(CHUNK_BYTES)
                except TimeoutError as exc:
                    raise StudioError(f"Download failed: {url} stopped sending data for {timeout:g} s.") from exc
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                reporter.progress(done, total, f"Downloading {dest.name}: {done / 1e6:.1f} MB")
        if total and done != total:
            raise StudioError(f"Download of {url} was cut short: {done:,} of {total:,} bytes arrived. Try again.")
        actual = digest.hexdigest()
        if sha256 is not None and actual.lower() != sha256.lower():
            raise StudioError(f"Checksum mismatch for {dest.name}: expected sha256 {sha256.lower()}, got {actual}. "
                              "The file was not saved (it is corrupt or was changed on the server).")
        fsync_file(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    reporter.progress(done, done or 1, f"Downloaded {dest.name}", force=True)
    return dest
