"""The headless command line: ``gpt-studio <verb> ... [--json]``.

Each verb drives the same engine calls as the desktop app. With ``--json`` the last line of stdout is one
JSON object (``{"ok": false, "error": ...}`` on failure); human progress goes to stderr. A user error exits
with status 1 and one clear line; a usage error with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from gpt_studio import __version__
from gpt_studio.cli_text import human
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.progress import end_progress_line

Handler = Callable[[argparse.Namespace], dict[str, Any]]


def _cmd_init(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.project import init_project

    project = init_project(args.project)
    return {"ok": True, "project": str(project.root), "format_version": project.meta()["format_version"]}


def _cmd_import(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.corpus import ImportOptions, import_corpus
    from gpt_studio.engine.progress import stderr_reporter
    from gpt_studio.engine.project import open_project

    options = ImportOptions(jsonl_field=args.field, csv_column=args.column, normalization=args.normalization,
                            whitespace=args.whitespace, dedup=not args.no_dedup, val_fraction=args.val_fraction,
                            split=args.split, seed=args.seed, encoding=args.encoding)
    project = open_project(args.project)
    manifest = import_corpus(project, args.sources, options, stderr_reporter(not args.quiet))
    stats, split = manifest["stats"], manifest["split"]
    sources = [{k: s[k] for k in ("path", "format", "status", "reason", "encoding", "documents", "duplicates",
                                  "empty", "bad_rows", "warnings")} for s in manifest["sources"]]
    return {"ok": True, "project": str(project.root), "documents": stats["documents"],
            "characters": stats["characters"], "bytes": stats["bytes"], "words": stats["words"],
            "distinct_characters": stats["distinct_characters"], "duplicates_removed": stats["duplicates_removed"],
            "split_mode": split["mode"], "train_documents": split["train"]["documents"],
            "val_documents": split["val"]["documents"], "train_characters": split["train"]["characters"],
            "val_characters": split["val"]["characters"], "sources_imported": stats["sources_imported"],
            "sources_skipped": stats["sources_skipped"], "sources": sources}


def _cmd_tokenizer(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.progress import stderr_reporter
    from gpt_studio.engine.project import open_project
    from gpt_studio.engine.tokenizer import TokenizerSettings, train_tokenizer

    settings = TokenizerSettings(model_type=args.model_type, vocab_size=args.vocab_size,
                                 character_coverage=args.coverage, byte_fallback=args.byte_fallback,
                                 max_sentences=args.max_sentences, seed=args.seed)
    project = open_project(args.project)
    if args.range:
        from gpt_studio.engine.vocab_range import vocab_range

        found = vocab_range(project, settings, stderr_reporter(not args.quiet))
        return {"ok": True, "project": str(project.root), "range": True, "minimum": found.minimum,
                "maximum": found.maximum, "all_characters": found.all_characters, "model_type": found.model_type,
                "character_coverage": found.character_coverage, "byte_fallback": found.byte_fallback,
                "vocab_size_problem": found.problem(settings.vocab_size), "message": found.describe()}
    meta = train_tokenizer(project, settings, stderr_reporter(not args.quiet))
    return {"ok": True, "project": str(project.root), "model_type": settings.model_type,
            "vocab_size": meta["vocab_size"], "train_seconds": meta["train_seconds"], **meta["report"],
            "special_ids": meta["special_ids"]}


def _cmd_encode(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.data import encode_corpus
    from gpt_studio.engine.progress import stderr_reporter
    from gpt_studio.engine.project import open_project

    project = open_project(args.project)
    meta = encode_corpus(project, stderr_reporter(not args.quiet), workers=args.workers)
    return {"ok": True, "project": str(project.root), "vocab_size": meta["vocab_size"], "dtype": meta["dtype"],
            "train_tokens": meta["splits"]["train"]["tokens"], "val_tokens": meta["splits"]["val"]["tokens"],
            "train_bytes": meta["splits"]["train"]["bytes"], "val_bytes": meta["splits"]["val"]["bytes"],
            "encode_seconds": meta["encode_seconds"], "tokens_per_second": meta["tokens_per_second"],
            "workers": meta["workers"], "notes": meta["notes"]}


def _probe(text: str, limit: int) -> dict[str, Any]:
    """``TASK:FILE`` (label-words, multiple-choice, winograd) → a zero-shot probe scored at every evaluation."""
    task, sep, data = text.partition(":")
    if not sep or not data:
        raise StudioError(f"--probe takes TASK:FILE (e.g. label-words:sentiment.csv), not {text!r}.")
    return {"task": task, "data": os.path.abspath(os.path.expanduser(data)), "limit": limit}


def _settings(pairs: list[str]) -> dict[str, Any]:
    from gpt_studio.engine.pretrain import parse_value

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise StudioError(f"--set expects key=value, got {pair!r}.")
        out[key.strip()] = parse_value(value)
    return out


def _cmd_pretrain(args: argparse.Namespace) -> dict[str, Any]:
    import signal

    from gpt_studio.engine.pretrain import pretrain
    from gpt_studio.engine.project import open_project
    from gpt_studio.engine.trainer import TrainControl

    project = open_project(args.project)
    control = TrainControl()
    signal.signal(signal.SIGTERM, lambda *_: control.stop())  # a scheduler's stop still writes a checkpoint

    def on_interrupt(*_: Any) -> None:
        if control.stop_requested:
            raise KeyboardInterrupt
        sys.stderr.write("\nStopping after this step with a checkpoint (Ctrl-C again to abort without one)...\n")
        control.stop()

    signal.signal(signal.SIGINT, on_interrupt)
    listeners = [] if args.quiet or os.environ.get("RANK", "0") != "0" else [_progress_printer()]
    branch = (args.branch, args.branch_step) if args.branch else None
    settings = _settings(args.set)
    if args.probe:
        settings["probes"] = [_probe(text, args.probe_limit) for text in args.probe]
    return {"ok": True, **pretrain(project, preset_name=args.preset, settings=settings,
                                   resume=args.resume, branch=branch, max_steps=args.max_steps,
                                   listeners=listeners, control=control)}


def _layers(value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'all' or a number of blocks, not {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {number}")
    return number


def _seeds(value: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,2,3, not {value!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed")
    return seeds


def _column_map(args: argparse.Namespace, path: str, task: str) -> Any:
    """Columns from the options, the rest guessed from the file's column names."""
    from gpt_studio.engine.finetune_data import ColumnMap, guess_columns, preview_table

    guessed = guess_columns(preview_table(path, 50).columns, task)
    return ColumnMap(text=args.text or guessed.text, text_pair=args.text_pair or guessed.text_pair,
                     label=args.label or guessed.label, context=args.context or guessed.context,
                     choices=args.choices or guessed.choices)


def _cmd_finetune(args: argparse.Namespace) -> dict[str, Any]:
    import signal

    from gpt_studio.engine.finetune import FinetuneConfig, compare_with_scratch, finetune, sweep_layers
    from gpt_studio.engine.finetune_data import LabelPlan, load_task_data, subsample
    from gpt_studio.engine.project import open_project
    from gpt_studio.engine.trainer import TrainControl

    project = open_project(args.project)
    rename = {}
    for pair in args.rename:
        old, sep, new = pair.partition("=")
        if not sep:
            raise StudioError(f"--rename expects OLD=NEW, got {pair!r}.")
        rename[old.strip()] = new.strip()
    plan = LabelPlan(rename=rename, exclude=set(args.exclude))
    seeds = args.seeds or (args.seed,)
    if len(seeds) > 1 and not (args.compare_scratch or args.sweep_layers):
        raise StudioError("Several --seeds need --compare-scratch or --sweep-layers; a single fine-tune takes one.")
    settings = {"task": args.task, "regression": args.regression, "epochs": args.epochs, "lr": args.lr,
                "batch_size": args.batch_size, "aux_lm_weight": args.aux_lm,
                "layers_transferred": args.layers_transferred, "transfer_embeddings": not args.no_transfer_embeddings,
                "freeze_body": args.freeze_body, "val_fraction": args.val_fraction,
                "early_stopping_patience": args.patience, "device": args.device, "seed": seeds[0],
                **({"max_length": args.max_length} if args.max_length else {}), **_settings(args.set)}
    config = FinetuneConfig.from_dict(settings)
    config.validate()
    columns = _column_map(args, args.data, args.task)
    train = load_task_data(args.data, args.task, columns, plan=plan, regression=args.regression)
    if args.max_examples:
        train = subsample(train, args.max_examples, config.seed)
    evaluation = None
    if args.eval_data:
        fixed = train.labels if args.task != "multiple-choice" and not args.regression else None
        evaluation = load_task_data(args.eval_data, args.task, _column_map(args, args.eval_data, args.task),
                                    plan=plan, regression=args.regression, labels=fixed)
        if args.max_eval_examples:
            evaluation = subsample(evaluation, args.max_eval_examples, config.seed)
    control = TrainControl()
    signal.signal(signal.SIGTERM, lambda *_: control.stop())  # a stop still evaluates and saves the best so far

    def on_interrupt(*_: Any) -> None:
        if control.stop_requested:
            raise KeyboardInterrupt
        sys.stderr.write("\nStopping after this step; the best model so far is saved (Ctrl-C again to abort)...\n")
        control.stop()

    signal.signal(signal.SIGINT, on_interrupt)
    listeners = [] if args.quiet else [_progress_printer()]
    common = {"eval_data": evaluation, "listeners": listeners, "control": control}
    if args.compare_scratch:
        return {"ok": True, **compare_with_scratch(project, args.base, train, config, seeds=seeds, **common)}
    if args.sweep_layers:
        return {"ok": True, **sweep_layers(project, args.base, train, config, seeds=seeds, **common)}
    result = finetune(project, args.base, train, config, name=args.name, **common)
    return {"ok": True, **result.to_dict()}


def _cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    from pathlib import Path

    from gpt_studio.engine.finetune import FINETUNE_FILE, model_info, predict
    from gpt_studio.engine.finetune_data import ColumnMap
    from gpt_studio.engine.project import open_project

    folder = Path(args.model).expanduser()
    if not (folder / FINETUNE_FILE).is_file():
        if not args.project:
            raise StudioError(f"{args.model} is not a model folder; give its path, or --project PROJECT to find it "
                              "by name under models/.")
        folder = open_project(args.project).models_dir / args.model
        if not (folder / FINETUNE_FILE).is_file():
            raise StudioError(f"No saved model named {args.model!r} in {folder.parent}.")
    trained = ColumnMap.from_dict(model_info(folder)["columns"])
    columns = ColumnMap(text=args.text or trained.text, text_pair=args.text_pair or trained.text_pair,
                        label=args.label or trained.label, context=args.context or trained.context,
                        choices=args.choices or trained.choices)
    return {"ok": True, **predict(folder, args.data, columns, args.out)}


def _progress_printer() -> Callable[[Any], None]:
    """Human progress on stderr: one line per evaluation, a throttled line per step."""
    import time

    last = [0.0]

    def show(event: Any) -> None:
        if event.kind == "step" and time.monotonic() - last[0] > 1.0:
            last[0] = time.monotonic()
            sys.stderr.write(f"step {event.step}: loss {event.loss:.4f}, lr {event.lr:.2e}, "
                             f"{event.tokens_per_second:,.0f} tokens/s\n")
        elif event.kind == "eval":
            bpb = f", {event.val_bits_per_byte:.3f} bits/byte" if event.val_bits_per_byte is not None else ""
            sys.stderr.write(f"step {event.step}: val loss {event.val_loss:.4f}, perplexity "
                             f"{event.val_perplexity:.2f}{bpb}\n")
        elif event.kind == "finetune_eval":
            shown = ", ".join(f"{k} {v:.4f}" for k, v in event.metrics.items())
            sys.stderr.write(f"step {event.step} (epoch {event.epoch:.2f}): val loss {event.val_loss:.4f}, {shown}\n")
        elif event.kind in ("checkpoint", "error", "correction"):
            detail = getattr(event, "path", None) or getattr(event, "message", None) or getattr(event, "changes", "")
            sys.stderr.write(f"step {event.step}: {event.kind} {detail}\n")
        sys.stderr.flush()

    return show


def _cmd_plan(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.compute import plan
    from gpt_studio.engine.model import preset
    from gpt_studio.engine.pretrain import split_settings
    from gpt_studio.engine.recipes import expand

    try:
        model_preset, recipe_settings = expand(args.preset)
    except ValueError as exc:
        raise StudioError(str(exc)) from exc
    model_settings, train_settings = split_settings(_settings(args.set))
    model_settings = {**split_settings(recipe_settings)[0], **model_settings}
    if train_settings:
        raise StudioError(f"plan takes model settings only; {', '.join(train_settings)} are training settings "
                          "(use --batch-size, --precision, --tokens).")
    if args.vocab_size:
        model_settings["vocab_size"] = args.vocab_size
    try:
        config = preset(model_preset, **model_settings)
        result = plan(config, tokens=args.tokens, batch_size=args.batch_size, precision=args.precision,
                      device_memory_bytes=None if args.memory_gb is None else int(args.memory_gb * 2**30),
                      tokens_per_second=args.tokens_per_second,
                      peak_flops=None if args.peak_tflops is None else args.peak_tflops * 1e12,
                      price_per_gpu_hour=args.price_per_hour)
    except ValueError as exc:
        raise StudioError(str(exc)) from exc
    return {"ok": True, "preset": args.preset, **result.to_dict()}


class _Parser(argparse.ArgumentParser):
    """Usage errors keep the --json contract: the last stdout line is still a JSON object."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if "--json" in sys.argv[1:]:
            print(json.dumps({"ok": False, "error": f"usage: {message}"}))
        super().error(message)


def _refuse_unknown(parser: argparse.ArgumentParser, verb: str | None, extras: list[str]) -> None:
    """Exit 2 with the verb's own usage and, for a misspelt option, the ones it may have meant.

    argparse reports options a verb does not know through the top-level parser, whose usage lists the verbs,
    not the options: "unrecognized arguments: --max-new-tokens" then left the reader to guess ``--max-tokens``.
    """
    import difflib

    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    sub = subparsers[0].choices.get(verb) if subparsers and verb else None
    target = sub or parser
    known = [o for a in target._actions for o in a.option_strings if o.startswith("--")]  # noqa: SLF001
    hints = []
    for extra in extras:
        close = difflib.get_close_matches(extra.split("=")[0], known, n=2, cutoff=0.6) if extra.startswith("--") else []
        if close:
            hints.append(f"{extra}: did you mean {' or '.join(close)}?")
    target.error(f"unrecognized arguments: {' '.join(extras)}" + ("; " + "; ".join(hints) if hints else ""))


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def _column_options(sub: argparse.ArgumentParser, trained: bool = False) -> None:
    default = "the model's" if trained else "guessed from the header"
    sub.add_argument("--text", metavar="COL", help=f"text (premise, first sentence) column; default {default}")
    sub.add_argument("--text-pair", metavar="COL", help=f"second text (hypothesis, second sentence); default {default}")
    sub.add_argument("--label", metavar="COL", help=f"label / score / answer-index column; default {default}")
    sub.add_argument("--context", metavar="COL", help="multiple choice: context column(s), joined: --context a,b")
    sub.add_argument("--choices", metavar="COLS", help="multiple choice: a list field, or one column per answer: a,b")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every verb (documented in docs/CLI.md)."""
    parser = _Parser(prog="gpt-studio", description="GPT Studio: pretrain, fine-tune and probe "
                                     "small GPT and BERT models. With no verb, opens the desktop app. "
                                     "Run a verb with --help for its options.")
    parser.add_argument("--version", action="version", version=f"gpt-studio {__version__}")
    parser.add_argument("--smoke", action="store_true", help="check this installation: open the app on a sample "
                        "project (offscreen without a display), close it, print a JSON summary, exit 0 if all worked")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)

    def verb(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("project", metavar="PROJECT", help="the project folder")
        sub.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
        sub.add_argument("--quiet", action="store_true", help="no progress on stderr")
        sub.set_defaults(handler=handler)
        return sub

    verb("init", _cmd_init, "Create a new project folder (or confirm an existing one).")

    imp = verb("import", _cmd_import, "Import text files and folders (txt, md, jsonl, csv, tsv; .gz too) "
               "into the project's corpus, replacing the previous corpus.")
    imp.add_argument("sources", nargs="+", metavar="SRC", help="files or folders (searched recursively)")
    imp.add_argument("--field", default="text", help="JSONL key holding the text (default: text)")
    imp.add_argument("--column", default="text", help="CSV/TSV header of the text column (default: text)")
    imp.add_argument("--normalization", default="NFC", choices=["none", "NFC", "NFKC"])
    imp.add_argument("--whitespace", default="strip", choices=["keep", "strip", "collapse"],
                     help="keep; strip line-end spaces and blank-line runs (default); collapse all to one space")
    imp.add_argument("--no-dedup", action="store_true", help="keep exact duplicate documents")
    imp.add_argument("--val-fraction", type=float, default=0.1, help="share held out for validation (default 0.1)")
    imp.add_argument("--split", default="auto", choices=["auto", "document", "tail"],
                     help="by document, or the contiguous tail of the text; auto picks document when it can")
    imp.add_argument("--seed", type=int, default=0, help="salt of the document split")
    imp.add_argument("--encoding", default=None, help="force a text encoding (default: UTF-8, else detected)")

    tok = verb("tokenizer", _cmd_tokenizer, "Train the project's SentencePiece tokenizer on the corpus.")
    tok.add_argument("--vocab-size", type=int, default=8000, help="total ids incl. 8 reserved (char: 0 = all)")
    tok.add_argument("--model-type", default="bpe", choices=["bpe", "unigram", "char"])
    tok.add_argument("--coverage", type=float, default=1.0, help="character coverage, 0.9 to 1.0 (default 1.0)")
    tok.add_argument("--byte-fallback", action="store_true", help="spell rare characters as bytes: no <unk>")
    tok.add_argument("--max-sentences", type=int, default=2_000_000, help="sample at most this many lines")
    tok.add_argument("--seed", type=int, default=0)
    tok.add_argument("--range", action="store_true", help="print the vocab sizes these settings can train on the "
                     "corpus (SentencePiece's own limits) and whether --vocab-size fits; trains nothing")

    pre = verb("pretrain", _cmd_pretrain, "Pretrain a GPT or BERT model on the project's shards (a new run, a "
               "resume, or a branch from a checkpoint). Works under torchrun.")
    pre.add_argument("--preset", help="model preset or recipe for a new run (tiny-gpt, tiny-bert, shakespeare-char, "
                     "shakespeare-char-speedrun, gpt1, bert-base)")
    pre.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a model or training setting (repeatable), e.g. --set lr=1e-3 --set n_layer=4")
    pre.add_argument("--max-steps", type=_positive_int, help="the run's total number of optimizer steps")
    pre.add_argument("--probe", action="append", default=[], metavar="TASK:FILE",
                     help="zero-shot probe scored at every evaluation (label-words, multiple-choice, winograd); "
                          "repeatable")
    pre.add_argument("--probe-limit", type=_positive_int, default=200, help="items per probe (evenly spaced)")
    pre.add_argument("--resume", metavar="RUN_ID", help="continue a run from its latest checkpoint")
    pre.add_argument("--branch", metavar="RUN_ID", help="start a new run from a checkpoint of RUN_ID")
    pre.add_argument("--branch-step", type=int, help="the checkpoint step to branch from (default: latest)")

    pln = verbs.add_parser("plan", help="Compute planner: parameters, FLOPs, PF-days, memory, time, cost.",
                           description="Compute planner: parameters, FLOPs, PF-days, memory, time, cost.")
    pln.add_argument("--preset", required=True)
    pln.add_argument("--tokens", type=float, required=True, help="training tokens, e.g. 3e9")
    pln.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    pln.add_argument("--vocab-size", type=int, default=None)
    pln.add_argument("--batch-size", type=int, default=32)
    pln.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16", "fp16"])
    pln.add_argument("--memory-gb", type=float, default=None, help="device memory to check the estimate against")
    pln.add_argument("--tokens-per-second", type=float, default=None, help="measured throughput for a time estimate")
    pln.add_argument("--peak-tflops", type=float, default=None, help="device peak, for MFU")
    pln.add_argument("--price-per-hour", type=float, default=None, help="price per GPU-hour, for a cost estimate")
    pln.add_argument("--json", action="store_true")
    pln.add_argument("--quiet", action="store_true")
    pln.set_defaults(handler=_cmd_plan)

    enc = verb("encode", _cmd_encode, "Encode the corpus into token shards with the project's tokenizer.")
    enc.add_argument("--workers", type=_positive_int, default=None, help="processes (default: all cores)")

    fin = verb("finetune", _cmd_finetune, "Fine-tune a pretrained run (or a saved model) on labelled data with the "
               "GPT-1 task formats; saves PROJECT/models/<name>/.")
    fin.add_argument("--base", required=True, metavar="RUN_ID_OR_MODEL",
                     help="a run id (latest checkpoint), RUN_ID@STEP, a saved model's name, or a folder")
    fin.add_argument("--task", required=True, choices=["classification", "entailment", "similarity",
                                                      "multiple-choice"])
    fin.add_argument("--data", required=True, metavar="FILE", help="training data: .csv, .tsv or .jsonl")
    fin.add_argument("--eval-data", metavar="FILE", help="validation data (default: a stratified share of --data)")
    _column_options(fin)
    fin.add_argument("--regression", action="store_true", help="similarity: predict the score (MSE) instead of a class")
    fin.add_argument("--rename", nargs="+", action="extend", default=[], metavar="OLD=NEW",
                     help="rename (or merge) labels before training")
    fin.add_argument("--exclude", nargs="+", action="extend", default=[], metavar="LABEL",
                     help="drop rows with these labels ('' = empty labels)")
    fin.add_argument("--aux-lm", type=float, default=0.5, metavar="λ",
                     help="weight of the auxiliary LM loss, L = L_task + λ·L_LM (0 = off; default 0.5)")
    fin.add_argument("--layers-transferred", type=_layers, default=None, metavar="all|K",
                     help="pretrained blocks copied (the first K); default all")
    fin.add_argument("--no-transfer-embeddings", action="store_true", help="start the embeddings fresh")
    fin.add_argument("--freeze-body", action="store_true", help="train the head only (a linear probe)")
    fin.add_argument("--epochs", type=_positive_int, default=3)
    fin.add_argument("--lr", type=float, default=6.25e-5, help="peak learning rate (default 6.25e-5, GPT-1's)")
    fin.add_argument("--batch-size", type=_positive_int, default=32)
    fin.add_argument("--max-length", type=_positive_int, default=None, help="tokens per sequence (default: context)")
    fin.add_argument("--max-examples", type=_positive_int, default=None,
                     help="train on at most N examples (drawn at random, class shares kept)")
    fin.add_argument("--max-eval-examples", type=_positive_int, default=None,
                     help="evaluate on at most N examples of --eval-data")
    fin.add_argument("--val-fraction", type=float, default=0.1, help="validation share without --eval-data")
    fin.add_argument("--patience", type=int, default=0, help="early stopping: evaluations without improvement (0 off)")
    fin.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    fin.add_argument("--seed", type=int, default=1337)
    fin.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="any other fine-tuning setting, e.g. --set warmup_fraction=0.1 --set eval_interval=50")
    fin.add_argument("--name", help="folder name under models/ (default: TASK-BASE_RUN-TIMESTAMP)")
    fin.add_argument("--compare-scratch", action="store_true",
                     help="also fine-tune from scratch (no transferred weights) with the same steps; print the table")
    fin.add_argument("--sweep-layers", action="store_true", help="metric against layers transferred 0..n")
    fin.add_argument("--seeds", type=_seeds, default=None, metavar="1,2,3",
                     help="seeds for --compare-scratch / --sweep-layers (default: --seed)")

    prd = verbs.add_parser("predict", help="Predict with a fine-tuned model on a CSV/TSV/JSONL file.",
                           description="Predict with a fine-tuned model on a CSV/TSV/JSONL file; with labels in the "
                                       "file, metrics too.")
    prd.add_argument("model", metavar="MODEL", help="a model folder, or a name under PROJECT/models/ with --project")
    prd.add_argument("--project", help="the project holding MODEL (when MODEL is a name)")
    prd.add_argument("--data", required=True, metavar="FILE")
    prd.add_argument("--out", metavar="FILE", help="write a CSV with one probability column per label")
    _column_options(prd, trained=True)
    prd.add_argument("--json", action="store_true")
    prd.add_argument("--quiet", action="store_true")
    prd.set_defaults(handler=_cmd_predict)

    from gpt_studio.cli_playground import add_verbs as add_playground_verbs  # zero-shot, fill-mask, generate

    add_playground_verbs(verbs)
    from gpt_studio.cli_interop import add_verbs as add_interop_verbs  # import-model, export-hf (issue 8)

    add_interop_verbs(verbs)

    gui = verbs.add_parser("gui", help="Open the desktop app (what `gpt-studio` with no verb does).",
                           description="Open the desktop app, optionally with a project; without one it reopens "
                                       "the last project.")
    gui.add_argument("project", metavar="PROJECT", nargs="?", help="a project folder to open")
    return parser


def _run_gui(project: str | None) -> int:
    """The desktop app; imported only here so the headless verbs never load Qt."""
    from gpt_studio.ui.app import main as gui_main

    return gui_main([project] if project else [])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gpt-studio`` command; returns the process exit status."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        _refuse_unknown(parser, getattr(args, "verb", None), extras)
    if args.smoke:
        from gpt_studio.ui.app import smoke

        return smoke()
    if getattr(args, "verb", None) in (None, "gui"):
        return _run_gui(getattr(args, "project", None))
    try:
        result = args.handler(args)
    except StudioError as exc:
        end_progress_line()
        print(f"gpt-studio {args.verb}: error: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc), **exc.details}))
        return 1
    except KeyboardInterrupt:
        end_progress_line()
        print(f"gpt-studio {args.verb}: interrupted; nothing was changed.", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": "interrupted"}))
        return 130
    end_progress_line()
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone reports
        return 0
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(human(args.verb, result))
    return 0

