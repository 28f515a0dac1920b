"""The interoperability verbs: ``import-model`` (a Hugging Face folder into a project) and ``export-hf``.

They follow :mod:`gpt_studio.cli`'s conventions (that module registers them with :func:`add_verbs`): torch and
the engine are imported only when a verb runs, so ``--help`` stays light; with ``--json`` the last stdout line
is one JSON object; a user error exits 1 with ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

VERBS = ("import-model", "export-hf")


def _cmd_import_model(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.atomic import read_json
    from gpt_studio.engine.hf_import import SOURCE_FILE, import_hf_model
    from gpt_studio.engine.model import ModelConfig, count_parameters
    from gpt_studio.engine.progress import stderr_reporter
    from gpt_studio.engine.project import open_project

    project = open_project(args.project)
    name = args.name or Path(args.folder).expanduser().resolve().name
    path = import_hf_model(args.folder, project, name, stderr_reporter(not args.quiet), replace=args.replace)
    source = read_json(path / SOURCE_FILE)
    config = ModelConfig.from_dict(read_json(path / "config.json"))
    return {"ok": True, "project": str(project.root), "name": name, "path": str(path),
            "model_type": source["model_type"], "architectures": source["architectures"], "family": config.family,
            "parameters": count_parameters(config), "n_layer": config.n_layer, "d_model": config.d_model,
            "context_length": config.context_length, "vocab_size": config.vocab_size,
            "weights_file": source["weights_file"], "added_tokens": source["added_tokens"],
            "dropped": sorted(source["dropped"]), "missing": source["missing"], "notes": source["notes"]}


def _cmd_export_hf(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.atomic import read_json
    from gpt_studio.engine.hf_export import export_hf
    from gpt_studio.engine.progress import stderr_reporter
    from gpt_studio.engine.project import open_project

    project = open_project(args.project) if args.project else None
    out = export_hf(args.model, args.outdir, project=project, progress=stderr_reporter(not args.quiet),
                    replace=args.replace)
    config = read_json(out / "config.json")
    return {"ok": True, "model": args.model, "path": str(out), "architecture": config["architectures"][0],
            "model_type": config["model_type"], "vocab_size": config["vocab_size"],
            "tokenizer": "huggingface" if (out / "tokenizer.json").is_file() else "sentencepiece",
            "files": sorted(p.name for p in out.iterdir())}


def human(verb: str, result: dict[str, Any]) -> str:
    """A short plain-text summary of a verb's result (the JSON has everything)."""
    if verb == "import-model":
        extra = "".join(f"\nNote: {n}" for n in result["notes"])
        dropped = f"\nDropped: {', '.join(result['dropped'])}" if result["dropped"] else ""
        return (f"Imported {result['model_type']} ({', '.join(result['architectures']) or 'no architecture'}) as "
                f"{result['name']}: {result['n_layer']} layers, d={result['d_model']}, {result['parameters']:,} "
                f"parameters, {result['vocab_size']} tokens.\nSaved to {result['path']}{dropped}{extra}")
    return (f"Exported {result['model']} as {result['architecture']} with a {result['tokenizer']} tokenizer "
            f"to {result['path']} (see README.txt there).")


def add_verbs(verbs: Any) -> None:
    """Register ``import-model`` and ``export-hf`` on ``gpt-studio``'s subparsers (``verbs`` from add_subparsers)."""
    text = ("Import a local Hugging Face GPT-2 or BERT folder (config.json, model.safetensors or pytorch_model.bin, "
            "tokenizer files) as PROJECT/models/NAME, usable as MODEL by every other verb.")
    imp = verbs.add_parser("import-model", help=text, description=text)
    imp.add_argument("project", metavar="PROJECT", help="the project folder")
    imp.add_argument("folder", metavar="FOLDER", help="the Hugging Face model folder (nothing is downloaded)")
    imp.add_argument("--name", default=None, help="name under PROJECT/models/ (default: the folder's name)")
    imp.add_argument("--replace", action="store_true", help="replace an existing model of that name")
    imp.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    imp.add_argument("--quiet", action="store_true", help="no progress on stderr")
    imp.set_defaults(handler=_cmd_import_model)

    text = ("Export a model as a Hugging Face folder: GPT2LMHeadModel (causal) or BertForMaskedLM (masked), with "
            "its tokenizer and a README.txt.")
    exp = verbs.add_parser("export-hf", help=text, description=text)
    exp.add_argument("model", metavar="MODEL", help="a run id, RUN_ID@STEP, a saved model's name, or a model, run or "
                                                    "checkpoint folder")
    exp.add_argument("outdir", metavar="OUTDIR", help="a new or empty folder to write")
    exp.add_argument("--project", default=None, help="the project holding MODEL (default: the current directory)")
    exp.add_argument("--replace", action="store_true", help="replace the contents of a non-empty OUTDIR")
    exp.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    exp.add_argument("--quiet", action="store_true", help="no progress on stderr")
    exp.set_defaults(handler=_cmd_export_hf)
