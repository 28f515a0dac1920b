"""Data-path benchmark: corpus import, tokenizer training and encoding, against SentencePiece's own tools.

Run from the repository root::

    .venv/bin/python benchmarks/bench_data.py              # tiny Shakespeare + a ~200 MB corpus
    .venv/bin/python benchmarks/bench_data.py --big-mb 20  # quick run
    .venv/bin/python benchmarks/bench_data.py --json       # ... plus one JSON object as the last line

Measured on (a) tiny Shakespeare and (b) a corpus of ``--big-mb`` MB made of copies of War and Peace +
tiny Shakespeare, each copy a file with a unique first line so that de-duplication keeps it:

1. import throughput (MB of source files per second of ``import_corpus``);
2. tokenizer training (bpe, vocab 4000) on tiny Shakespeare: ``train_tokenizer`` wall time (child-process
   training + fertility on the val split) and the engine's own ``train_seconds``, against ``spm_train`` with
   the same trainer options on the same file, interleaved, median of ``--repeats``;
3. encoding throughput: ``encode_corpus`` (all cores) against a one-process SentencePiece loop
   (``for line in file: sp.encode(line)``) over the same split files with the same model, interleaved;
4. peak RSS while importing / encoding the big corpus: every big-corpus phase runs in a fresh subprocess
   (``--phase``) that reports ``ru_maxrss`` of itself and of its waited-for children (pool workers,
   the trainer child); the figure quoted is the larger of the two (parent vs largest child). See _peak_rss
   for why the parent's own figure is VmHWM rather than ru_maxrss on Linux.

Generated corpora and projects live in a temporary folder that is deleted at the end (``--keep`` keeps it).
MB = 10^6 bytes throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gpt_studio.engine import tokenizer as tok  # noqa: E402
from gpt_studio.engine.corpus import ImportOptions, import_corpus  # noqa: E402
from gpt_studio.engine.data import encode_corpus  # noqa: E402
from gpt_studio.engine.project import Project, init_project  # noqa: E402
from gpt_studio.engine.tokenizer import TokenizerSettings, train_tokenizer  # noqa: E402

DATASETS = Path(os.environ.get("GPT_STUDIO_DATASETS", "/work/shared/datasets"))
SHAKESPEARE = DATASETS / "tinyshakespeare" / "input.txt"
WAR_AND_PEACE = DATASETS / "war_and_peace" / "war_and_peace_body.txt"
SETTINGS = TokenizerSettings(model_type="bpe", vocab_size=4000)
MB = 1e6

TARGET_TRAIN_RATIO = 1.5  # ours / spm_train, at most
TARGET_ENCODE_SPEEDUP = 1.7  # encode_corpus vs one-process loop on the big corpus, at least
TARGET_RSS_MB = 400.0  # peak RSS while importing or encoding the big corpus, below


# ------------------------------------------------------------------------------------------------- helpers

def _self_hwm_kb() -> int | None:
    """This process's own peak RSS (VmHWM, KiB) on Linux, else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _peak_rss() -> dict[str, float]:
    """Peak RSS of this process and of its largest waited-for descendant (pool workers, trainer child), in MB.

    Children: ``getrusage(RUSAGE_CHILDREN).ru_maxrss``. Self: Linux's ``ru_maxrss`` of a freshly exec'd process
    starts at the peak RSS of the process that launched it (the kernel keeps the pre-exec image's high-water
    mark), which would report the benchmark driver's memory, not this phase's; so the process's own memory
    high-water mark ``VmHWM`` is used where it exists (it is what ``ru_maxrss`` measures, without the carry-over).
    """
    rusage_self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm = _self_hwm_kb()
    self_kb = hwm if hwm is not None else rusage_self_kb
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"rss_self_mb": self_kb * 1024 / MB, "rss_self_rusage_mb": rusage_self_kb * 1024 / MB,
            "rss_children_mb": child_kb * 1024 / MB,
            "rss_peak_mb": max(self_kb, child_kb) * 1024 / MB}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _source_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def make_big_corpus(folder: Path, target_mb: float) -> tuple[int, int]:
    """Files of War and Peace + tiny Shakespeare, each with a unique first line; returns (files, bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    body = WAR_AND_PEACE.read_bytes() + b"\n\n" + SHAKESPEARE.read_bytes()
    count = max(1, round(target_mb * MB / len(body)))
    total = 0
    for i in range(count):
        data = f"Benchmark copy {i:05d} of War and Peace and tiny Shakespeare.\n\n".encode() + body
        (folder / f"copy_{i:05d}.txt").write_bytes(data)
        total += len(data)
    return count, total


def spm_train_args(train_txt: Path, prefix: Path) -> list[str]:
    """The ``spm_train`` command line equivalent to what ``train_tokenizer`` passes to the trainer."""
    kwargs = tok.trainer_kwargs(SETTINGS, train_txt, prefix, os.cpu_count() or 1)
    args = ["spm_train"]
    for key, value in kwargs.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            value = ",".join(value)
        args.append(f"--{key}={value}")
    args.append(f"--random_seed={SETTINGS.seed}")
    return args


def run_spm_train(train_txt: Path, workdir: Path) -> float:
    """Wall seconds of one ``spm_train`` run (its log goes to a file, as the engine's child's does)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "spm_train.log", "wb") as log:
        started = time.perf_counter()
        subprocess.run(spm_train_args(train_txt, workdir / "spm"), check=True, stdout=log, stderr=log)
        return time.perf_counter() - started


_PY_TRAIN = """
import json, os, sys
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(fd, 2)
import sentencepiece as spm
kwargs = json.loads(sys.argv[1])
seed = kwargs.pop("_seed")
spm.set_random_generator_seed(seed)
spm.SentencePieceTrainer.train(**kwargs)
"""


def run_spm_python_train(train_txt: Path, workdir: Path) -> float:
    """Wall seconds of the installed ``sentencepiece`` Python trainer run in a fresh interpreter, same options.

    Informative: ``spm_train`` from the OS package may be an older SentencePiece than the one the engine uses,
    so this separates "our overhead" from "SentencePiece version".
    """
    workdir.mkdir(parents=True, exist_ok=True)
    kwargs = tok.trainer_kwargs(SETTINGS, train_txt, workdir / "py", os.cpu_count() or 1)
    kwargs["_seed"] = SETTINGS.seed
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", _PY_TRAIN, json.dumps(kwargs), str(workdir / "py_train.log")], check=True)
    return time.perf_counter() - started


def spm_loop_encode(project: Project) -> dict[str, float]:
    """Baseline: load the project's model, then ``sp.encode(line)`` for every line of both split files."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(project.tokenizer_dir / tok.MODEL_FILE))
    tokens = 0
    started = time.perf_counter()
    for split in ("train", "val"):
        with open(project.corpus_dir / f"{split}.txt", encoding="utf-8", newline="") as handle:
            for line in handle:
                tokens += len(sp.encode(line))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "tokens": tokens}


def ours_encode(project: Project) -> dict[str, float]:
    workers = os.cpu_count() or 1
    started = time.perf_counter()
    meta = encode_corpus(project, workers=workers)
    seconds = time.perf_counter() - started
    tokens = sum(s["tokens"] for s in meta["splits"].values())
    return {"seconds": seconds, "tokens": tokens, "workers_used": meta["workers"]}


# --------------------------------------------------------------------------------- phases (subprocesses)

def run_phase(args: argparse.Namespace) -> None:
    """One measured step in this fresh process; prints one JSON line (timing + peak RSS)."""
    project = init_project(args.project)
    out: dict[str, Any] = {"phase": args.phase}
    if args.phase == "import":
        started = time.perf_counter()
        manifest = import_corpus(project, [args.source], ImportOptions())
        out["seconds"] = time.perf_counter() - started
        out["source_bytes"] = _source_bytes(Path(args.source))
        out["documents"] = manifest["stats"]["documents"]
        out["duplicates"] = manifest["stats"]["duplicates_removed"]
        out["corpus_bytes"] = sum(manifest["split"][s]["bytes"] for s in ("train", "val"))
    elif args.phase == "train":
        started = time.perf_counter()
        meta = train_tokenizer(project, SETTINGS)
        out["seconds"] = time.perf_counter() - started
        out["train_seconds"] = meta["train_seconds"]
    elif args.phase == "encode":
        out.update(ours_encode(project))
    elif args.phase == "spm-encode":
        out.update(spm_loop_encode(project))
    else:
        raise SystemExit(f"unknown phase {args.phase!r}")
    out.update(_peak_rss())
    print(json.dumps(out))


def phase(name: str, project: Path, source: Path | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", name, "--project", str(project)]
    if source is not None:
        cmd += ["--source", str(source)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- benchmarks

def bench_tiny(tmp: Path, repeats: int, quiet: bool) -> dict[str, Any]:
    project = init_project(tmp / "tiny_project")
    size = SHAKESPEARE.stat().st_size
    imports = []
    for _ in range(repeats):
        started = time.perf_counter()
        import_corpus(project, [SHAKESPEARE], ImportOptions())
        imports.append(time.perf_counter() - started)
    res: dict[str, Any] = {"source_mb": size / MB, "import_seconds": _median(imports),
                           "import_mb_s": size / MB / _median(imports)}
    _log(quiet, f"tiny: import {res['import_mb_s']:.1f} MB/s")

    have_spm = shutil.which("spm_train") is not None
    ours_total, ours_train, spm, spm_py = [], [], [], []
    train_txt = project.corpus_dir / "train.txt"
    for i in range(repeats):  # interleaved: ours, spm_train, python trainer, ours, spm_train, ...
        started = time.perf_counter()
        meta = train_tokenizer(project, SETTINGS)
        ours_total.append(time.perf_counter() - started)
        ours_train.append(meta["train_seconds"])
        if have_spm:
            spm.append(run_spm_train(train_txt, tmp / "spm_train"))
        spm_py.append(run_spm_python_train(train_txt, tmp / "spm_py"))
        _log(quiet, f"tiny: train run {i + 1}/{repeats}: ours {ours_total[-1]:.2f} s (train {ours_train[-1]:.2f} s)"
             + (f", spm_train {spm[-1]:.2f} s" if have_spm else "") + f", python trainer {spm_py[-1]:.2f} s")
    res.update({"train_total_s": _median(ours_total), "train_engine_s": _median(ours_train),
                "train_total_runs": ours_total, "train_engine_runs": ours_train,
                "spm_python_train_s": _median(spm_py), "spm_python_train_runs": spm_py,
                "spm_train_available": have_spm, "vocab_size": meta["vocab_size"],
                "fertility": meta["report"]["fertility"]})
    if have_spm:
        res.update({"spm_train_s": _median(spm), "spm_train_runs": spm,
                    "train_ratio_total": _median(ours_total) / _median(spm),
                    "train_ratio_engine": _median(ours_train) / _median(spm)})
    else:
        res["spm_train_note"] = ("spm_train not on PATH, comparison skipped (install it: apt-get install "
                                 "sentencepiece)")

    ours, base = [], []
    for _ in range(repeats):
        ours.append(ours_encode(project))
        base.append(spm_loop_encode(project))
    res.update(_encode_summary(ours, base))
    _log(quiet, f"tiny: encode ours {res['encode_ours_tok_s']:,.0f} tok/s, loop {res['encode_loop_tok_s']:,.0f} tok/s")
    return res


def _encode_summary(ours: list[dict[str, Any]], base: list[dict[str, Any]]) -> dict[str, Any]:
    ours_s, base_s = _median([r["seconds"] for r in ours]), _median([r["seconds"] for r in base])
    ours_tok, base_tok = ours[0]["tokens"], base[0]["tokens"]
    return {"encode_ours_s": ours_s, "encode_loop_s": base_s, "encode_ours_runs": [r["seconds"] for r in ours],
            "encode_loop_runs": [r["seconds"] for r in base], "encode_ours_tokens": ours_tok,
            "encode_loop_tokens": base_tok, "encode_ours_tok_s": ours_tok / ours_s,
            "encode_loop_tok_s": base_tok / base_s,
            "encode_workers_used": ours[0].get("workers_used", 1), "encode_speedup": base_s / ours_s}


def bench_big(tmp: Path, big_mb: float, repeats: int, quiet: bool) -> dict[str, Any]:
    source = tmp / "big_source"
    files, nbytes = make_big_corpus(source, big_mb)
    _log(quiet, f"big: wrote {files} files, {nbytes / MB:.1f} MB")
    project = tmp / "big_project"
    imports = []
    for i in range(repeats):
        imports.append(phase("import", project, source))
        _log(quiet, f"big: import run {i + 1}/{repeats}: {imports[-1]['seconds']:.1f} s, "
             f"peak RSS {imports[-1]['rss_peak_mb']:.0f} MB")
    imp_s = _median([r["seconds"] for r in imports])
    res: dict[str, Any] = {
        "files": files, "source_mb": nbytes / MB, "corpus_mb": imports[0]["corpus_bytes"] / MB,
        "documents": imports[0]["documents"], "duplicates": imports[0]["duplicates"],
        "import_seconds": imp_s, "import_runs": [r["seconds"] for r in imports], "import_mb_s": nbytes / MB / imp_s,
        "import_rss_self_mb": max(r["rss_self_mb"] for r in imports),
        "import_rss_children_mb": max(r["rss_children_mb"] for r in imports),
        "import_rss_peak_mb": max(r["rss_peak_mb"] for r in imports),
    }
    train = phase("train", project)
    res.update({"train_total_s": train["seconds"], "train_engine_s": train["train_seconds"],
                "train_rss_self_mb": train["rss_self_mb"], "train_rss_children_mb": train["rss_children_mb"]})
    _log(quiet, f"big: tokenizer trained in {train['seconds']:.1f} s (informative)")
    ours, base = [], []
    for i in range(repeats):  # interleaved, each run in a fresh process
        ours.append(phase("encode", project))
        base.append(phase("spm-encode", project))
        _log(quiet, f"big: encode run {i + 1}/{repeats}: ours {ours[-1]['seconds']:.1f} s "
             f"(peak RSS self {ours[-1]['rss_self_mb']:.0f} MB, children {ours[-1]['rss_children_mb']:.0f} MB), "
             f"loop {base[-1]['seconds']:.1f} s")
    res.update(_encode_summary(ours, base))
    res.update({"encode_rss_self_mb": max(r["rss_self_mb"] for r in ours),
                "encode_rss_children_mb": max(r["rss_children_mb"] for r in ours),
                "encode_rss_peak_mb": max(r["rss_peak_mb"] for r in ours)})
    return res


# ----------------------------------------------------------------------------------------------- report

def machine() -> dict[str, Any]:
    import numpy
    import sentencepiece

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    spm_cli = ""
    if shutil.which("spm_train"):
        done = subprocess.run(["spm_train", "--version"], capture_output=True, text=True)
        spm_cli = (done.stdout + done.stderr).strip().splitlines()[0] if (done.stdout + done.stderr).strip() else ""
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cores": os.cpu_count(), "cpu": cpu,
            "python": platform.python_version(), "torch": torch_version, "numpy": numpy.__version__,
            "sentencepiece": sentencepiece.__version__, "spm_train": spm_cli or "not found"}


def _verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def targets(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tiny, big = result["tiny"], result.get("big")
    if tiny.get("spm_train_available"):
        ratio = tiny["train_ratio_total"]
        out["train_vs_spm"] = {"value": ratio, "target": f"<= {TARGET_TRAIN_RATIO}x",
                               "met": ratio <= TARGET_TRAIN_RATIO}
    if big:
        out["encode_speedup"] = {"value": big["encode_speedup"], "target": f">= {TARGET_ENCODE_SPEEDUP}x",
                                 "met": big["encode_speedup"] >= TARGET_ENCODE_SPEEDUP}
        peak = max(big["import_rss_peak_mb"], big["encode_rss_peak_mb"])
        out["peak_rss"] = {"value": peak, "target": f"< {TARGET_RSS_MB:.0f} MB", "met": peak < TARGET_RSS_MB}
    return out


def print_table(result: dict[str, Any]) -> None:
    m, tiny, big = result["machine"], result["tiny"], result.get("big")
    print(f"GPT Studio data-path benchmark, {m['date']}")
    print(f"{m['cores']} cores, {m['cpu']}; Python {m['python']}, torch {m['torch']}, "
          f"sentencepiece {m['sentencepiece']}, {m['spm_train']}")
    rows: list[tuple[str, str, str]] = []

    def both(label: str, fmt: str, key: str) -> None:
        b = fmt.format(big[key]) if big and key in big else "-"
        rows.append((label, fmt.format(tiny[key]) if key in tiny else "-", b))

    rows.append(("source size (MB)", f"{tiny['source_mb']:.1f}", f"{big['source_mb']:.1f}" if big else "-"))
    both("import (MB/s)", "{:.1f}", "import_mb_s")
    both("tokenizer: train_tokenizer total (s)", "{:.2f}", "train_total_s")
    both("tokenizer: engine train_seconds (s)", "{:.2f}", "train_engine_s")
    if tiny.get("spm_train_available"):
        rows.append(("tokenizer: spm_train (s)", f"{tiny['spm_train_s']:.2f}", "-"))
        rows.append(("tokenizer: ours / spm_train (total; engine)",
                     f"{tiny['train_ratio_total']:.2f}x; {tiny['train_ratio_engine']:.2f}x", "-"))
    else:
        rows.append(("tokenizer: spm_train (s)", "skipped", "-"))
    rows.append((f"tokenizer: sentencepiece {m['sentencepiece']} py trainer, new process (s)",
                 f"{tiny['spm_python_train_s']:.2f}", "-"))
    both("encode: tokens (ours, incl. </s>)", "{:,}", "encode_ours_tokens")
    both("encode: encode_corpus (s)", "{:.2f}", "encode_ours_s")
    both("encode: one-process loop (s)", "{:.2f}", "encode_loop_s")
    both("encode: encode_corpus (tok/s)", "{:,.0f}", "encode_ours_tok_s")
    both("encode: one-process loop (tok/s)", "{:,.0f}", "encode_loop_tok_s")
    both("encode: workers used", "{}", "encode_workers_used")
    both("encode: speed-up (loop s / ours s)", "{:.2f}x", "encode_speedup")
    if big:
        rows.append(("peak RSS import: parent / child (MB)", "-",
                     f"{big['import_rss_self_mb']:.0f} / {big['import_rss_children_mb']:.0f}"))
        rows.append(("peak RSS encode: parent / largest worker (MB)", "-",
                     f"{big['encode_rss_self_mb']:.0f} / {big['encode_rss_children_mb']:.0f}"))
        rows.append(("peak RSS train (informative): parent / child", "-",
                     f"{big['train_rss_self_mb']:.0f} / {big['train_rss_children_mb']:.0f}"))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows + [("", "tiny Shakespeare", "")])
    big_label = f"~{result['big_mb']:.0f} MB corpus" if big else "big corpus"
    print(f"\n{'':<{w0}}  {'tiny Shakespeare':>{w1}}  {big_label:>16}")
    for label, a, b in rows:
        print(f"{label:<{w0}}  {a:>{w1}}  {b:>16}")
    print(f"\nmedians of {result['repeats']} (tiny) and {result['big_repeats']} (big) interleaved runs; "
          "peak RSS = max over runs of ru_maxrss (self, and RUSAGE_CHILDREN = largest child)")
    if not tiny.get("spm_train_available"):
        print(f"NOTE: {tiny['spm_train_note']}")
    print("\ntargets:")
    for name, t in result["targets"].items():
        print(f"  {name:<16} {t['value']:>8.2f}  (target {t['target']}): {_verdict(t['met'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mb", type=float, default=200.0, help="size of the generated corpus (0: skip it)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs on tiny Shakespeare (median)")
    parser.add_argument("--big-repeats", type=int, default=3, help="interleaved runs on the big corpus (median)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the temporary folder")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--project", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        run_phase(args)
        return 0
    for path in (SHAKESPEARE, WAR_AND_PEACE):
        if not path.is_file():
            raise SystemExit(f"missing dataset {path} (set GPT_STUDIO_DATASETS)")
    quiet = False
    tmp = Path(tempfile.mkdtemp(prefix="gpt_studio_bench_", dir=args.tmp))
    try:
        result: dict[str, Any] = {"machine": machine(), "repeats": args.repeats, "big_repeats": args.big_repeats,
                                  "big_mb": args.big_mb, "command": " ".join([Path(sys.executable).name] + sys.argv)}
        result["tiny"] = bench_tiny(tmp, args.repeats, quiet)
        if args.big_mb > 0:
            result["big"] = bench_big(tmp, args.big_mb, args.big_repeats, quiet)
        result["targets"] = targets(result)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print_table(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
