"""The Playground verbs: zero-shot, fill-mask and generate print one JSON object; bad input exits 1 clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpt_studio.cli import main
from gpt_studio.engine.pretrain import pretrain

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
FAST = {"batch_size": 8, "eval_batches": 1, "eval_interval": 1000, "warmup_steps": 2, "sample_tokens": 0,
        "device": "cpu"}


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gpt_studio", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def last_json(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(shakespeare_project):
    return {family: pretrain(shakespeare_project, preset_name=f"tiny-{family}", max_steps=4, settings=FAST)["run_id"]
            for family in ("gpt", "bert")}


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """The same verbs in this process (torch is already loaded here, so no 4-second start per call)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_zero_shot_prints_accuracy_chance_and_per_class(shakespeare_project, runs, capsys, monkeypatch):
    result = run_cli("zero-shot", runs["gpt"], "--project", str(shakespeare_project.root),
                     "--data", str(DATASETS / "sentiment_labelled_sentences" / "sentiment.csv"),
                     "--task", "label-words", "--label-word", "positive=good", "--label-word", "negative=bad",
                     "--template", "{text} It was", "--limit", "12", "--json")
    assert result.returncode == 0, result.stderr
    out = last_json(result)
    assert out["ok"] and out["n"] == 12 and out["chance"] == 0.5 and 0 <= out["accuracy"] <= 1
    assert set(out["per_class"]) == {"positive", "negative"} and "rows" not in out
    monkeypatch.chdir(shakespeare_project.root)  # the project is the current folder: no --project
    code, stdout, _ = run_main(capsys, "zero-shot", runs["gpt"], "--data", str(DATASETS / "copa" / "copa_dev.jsonl"),
                               "--task", "multiple-choice", "--limit", "6", "--normalisation", "char")
    assert code == 0 and "accuracy" in stdout and "chance 0.500" in stdout and "choice 1:" in stdout
    code, stdout, _ = run_main(capsys, "zero-shot", runs["gpt"], "--data", str(DATASETS / "wsc273" / "wsc273.jsonl"),
                               "--task", "winograd", "--limit", "4", "--rows", "--json")
    rows = json.loads(stdout.strip().splitlines()[-1])["rows"]
    assert code == 0 and len(rows) == 4 and rows[0]["gold"] in rows[0]["choices"]


def test_fill_mask_and_generate_print_their_results(shakespeare_project, runs, capsys):
    project = str(shakespeare_project.root)
    code, stdout, _ = run_main(capsys, "fill-mask", runs["bert"], "To be, or not to [MASK], that is the [MASK].",
                               "--top-k", "3", "--project", project, "--json")
    assert code == 0
    masks = json.loads(stdout.strip().splitlines()[-1])["masks"]
    assert len(masks) == 2 and all(len(m["guesses"]) == 3 for m in masks)
    assert set(masks[0]["guesses"][0]) == {"token", "piece", "id", "probability"}
    gen = run_cli("generate", runs["gpt"], "ROMEO:", "--max-tokens", "12", "--temperature", "0", "--project",
                  project, "--json")
    assert gen.returncode == 0, gen.stderr
    out = last_json(gen)
    assert out["tokens"] <= 12 and out["text"] and out["tokens_per_second"] > 0 and out["cache"] is True
    code, stdout, stderr = run_main(capsys, "generate", runs["gpt"], "ROMEO:", "--max-tokens", "12",
                                    "--temperature", "0", "--no-cache", "--project", project)
    assert code == 0 and stdout.rstrip("\n") == out["text"].rstrip("\n")  # streamed, then a final newline
    assert "tokens/s" in stderr


def test_bad_models_and_settings_exit_1_with_a_json_error(shakespeare_project, runs, capsys):
    project = str(shakespeare_project.root)
    unknown = run_cli("generate", "nope", "hi", "--project", project, "--json")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    error = last_json(unknown)
    assert error["ok"] is False and runs["gpt"][:8] in error["error"] and "nope" in error["error"]
    code, stdout, _ = run_main(capsys, "fill-mask", runs["gpt"], "a [MASK]", "--project", project, "--json")
    assert code == 1 and "BERT" in json.loads(stdout.strip().splitlines()[-1])["error"]
    code, stdout, stderr = run_main(capsys, "generate", runs["gpt"], "hi", "--top-p", "0", "--project", project,
                                    "--json")
    assert code == 1 and "top-p" in json.loads(stdout.strip().splitlines()[-1])["error"] and "error:" in stderr


def test_help_names_the_playground_verbs_without_loading_torch(capsys):
    code = ("import sys; from gpt_studio.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stderr
    with pytest.raises(SystemExit) as done:
        main(["zero-shot", "--help"])
    helped = capsys.readouterr().out
    assert done.value.code == 0 and "--normalisation" in helped and "winograd" in helped
