"""Sample corpora: the offline Python-docs sample and streaming downloads against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.samples import CATALOG, build_sample_corpus, download

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: many chunks, so a cancel lands midway
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/data.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/silent":
            self.release.wait(10)  # never answers within the client's timeout
        else:
            self.send_error(404, "Not Found")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    _Handler.release.set()
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_download_with_the_right_checksum_arrives_whole_with_progress(server, tmp_path):
    seen = []
    reporter = Reporter(lambda done, total, msg: seen.append((done, total)), min_interval_s=0)
    path = download(f"{server}/data.bin", tmp_path / "data.bin", sha256=PAYLOAD_SHA.upper(), reporter=reporter)
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["data.bin"]
    assert seen[0] == (0, len(PAYLOAD)) and seen[-1][0] == len(PAYLOAD)
    assert all(total == len(PAYLOAD) for _, total in seen[:-1])


def test_a_checksum_mismatch_names_both_digests_and_leaves_no_file(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(StudioError) as info:
        download(f"{server}/data.bin", tmp_path / "data.bin", sha256=wrong)
    assert wrong in str(info.value) and PAYLOAD_SHA in str(info.value)
    assert _leftovers(tmp_path) == []


def test_an_http_error_says_its_status_and_leaves_no_file(server, tmp_path):
    with pytest.raises(StudioError, match=r"HTTP 404 \(Not Found\)"):
        download(f"{server}/missing.txt", tmp_path / "missing.txt")
    assert _leftovers(tmp_path) == []


def test_cancelling_midway_stops_the_download_and_leaves_no_file(server, tmp_path):
    reporter = Reporter(min_interval_s=0)
    received = []

    def on_progress(done, total, message):
        received.append(done)
        if done > 0:
            reporter.cancel()

    reporter._on_progress = on_progress
    with pytest.raises(CancelledError):
        download(f"{server}/data.bin", tmp_path / "data.bin", reporter=reporter)
    assert 0 < max(received) < len(PAYLOAD)
    assert _leftovers(tmp_path) == []


def test_a_server_that_does_not_answer_times_out_with_a_clear_message(server, tmp_path):
    with pytest.raises(StudioError, match="no answer|stopped sending"):
        download(f"{server}/silent", tmp_path / "x.txt", timeout=0.3)
    assert _leftovers(tmp_path) == []


def test_an_unreachable_host_is_a_studio_error(tmp_path):
    with pytest.raises(StudioError, match="could not reach"):
        download("http://127.0.0.1:9/nothing", tmp_path / "x.txt", timeout=2)


def test_the_sample_corpus_is_one_text_file_per_python_docs_topic(tmp_path):
    from pydoc_data.topics import topics

    folder = build_sample_corpus(tmp_path / "sample")
    files = sorted(folder.glob("*.txt"))
    assert len(files) == len(topics)
    assert sum(f.stat().st_size for f in files) > 300_000
    assert build_sample_corpus(tmp_path / "sample") == folder  # rebuilding replaces it whole
    assert [p.name for p in tmp_path.iterdir()] == ["sample"]


def test_the_catalog_lists_https_sources_with_distinct_files_and_wellformed_checksums():
    assert len({s.filename for s in CATALOG}) == len(CATALOG)
    for source in CATALOG:
        assert source.url.startswith("https://")
        assert source.sha256 is None or (len(source.sha256) == 64 and int(source.sha256, 16) >= 0)
