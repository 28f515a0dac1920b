import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gpt_studio", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


def last_json(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_headless_pipeline_prints_one_json_object_per_verb(tmp_path, shakespeare):
    project = str(tmp_path / "p")
    init = run_cli("init", project, "--json")
    assert init.returncode == 0 and last_json(init)["format_version"] == 1
    imp = run_cli("import", project, str(shakespeare), "--json")
    assert imp.returncode == 0, imp.stderr
    imported = last_json(imp)
    assert imported["documents"] == 1 and imported["split_mode"] == "tail"
    assert "%" in imp.stderr, "human progress goes to stderr"
    checked = run_cli("tokenizer", project, "--vocab-size", "90000", "--range")  # before training: what fits
    assert checked.returncode == 0, checked.stderr
    assert "Feasible vocab sizes for this corpus (bpe):" in checked.stdout and "at most" in checked.stdout
    tok = run_cli("tokenizer", project, "--vocab-size", "500", "--model-type", "bpe", "--range", "--json")
    assert tok.returncode == 0 and not (Path(project) / "tokenizer" / "tokenizer.model").exists(), tok.stderr
    limits = last_json(tok)
    assert limits["minimum"] < 500 < limits["maximum"] and limits["vocab_size_problem"] is None
    tok = run_cli("tokenizer", project, "--vocab-size", "500", "--model-type", "bpe", "--json")
    assert tok.returncode == 0, tok.stderr
    assert last_json(tok)["vocab_size"] == 500
    enc = run_cli("encode", project, "--json", "--quiet")
    assert enc.returncode == 0, enc.stderr
    encoded = last_json(enc)
    assert encoded["train_tokens"] > encoded["val_tokens"] > 0 and encoded["dtype"] == "uint16"
    assert enc.stderr == ""


def test_a_user_error_exits_1_with_one_clear_line(tmp_path):
    result = run_cli("tokenizer", str(tmp_path), "--json")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "not a GPT Studio project" in result.stderr and "Traceback" not in result.stderr
    assert last_json(result) == {"ok": False, "error": result.stderr.split("error: ", 1)[1].strip()}


def test_an_unknown_option_is_a_usage_error(tmp_path):
    assert run_cli("import", str(tmp_path), "x.txt", "--frobnicate").returncode == 2


def test_a_misspelt_option_gets_the_verbs_usage_and_the_option_it_may_mean():
    result = run_cli("generate", "some-run", "Once", "--max-new-tokens", "5")
    assert result.returncode == 2 and "usage: gpt-studio generate" in result.stderr
    assert "--max-new-tokens: did you mean --max-tokens?" in result.stderr


def test_help_lists_the_verbs_and_says_no_verb_opens_the_app():
    result = run_cli("--help")
    assert result.returncode == 0 and "VERB" in result.stdout and "gui" in result.stdout
    assert "With no verb, opens the desktop app" in " ".join(result.stdout.split())


ENGINE = ROOT / "gpt_studio" / "engine"


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_the_engine_never_imports_qt(path):
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    forbidden = [n for n in names if n.split(".")[0] in {"PySide6", "pyqtgraph", "shiboken6", "PyQt5", "PyQt6"}
                 or n.startswith("gpt_studio.ui")]
    assert forbidden == []


def test_the_light_verbs_do_not_load_torch_or_qt():
    code = ("import sys, gpt_studio.cli, gpt_studio.engine.corpus, gpt_studio.engine.data, "
            "gpt_studio.engine.batches; print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
