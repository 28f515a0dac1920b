"""Transfer benchmark (issue 6): does pretraining help a small GPT classify sentiment? Pretrained vs from scratch.

Run from the repository root::

    .venv/bin/python benchmarks/bench_transfer.py            # full run (about 10 minutes on a quiet core)
    .venv/bin/python benchmarks/bench_transfer.py --quick    # plumbing check (about 1 minute); not a result
    .venv/bin/python benchmarks/bench_transfer.py --json     # ... plus one JSON object as the last line

1. **Pretraining.** A project is built with the engine's own calls, as the CLI does (``init``; ``import`` of
   War and Peace and tiny Shakespeare; a 2000-piece BPE tokenizer; ``encode``), then a GPT of 4 layers, 4
   heads, d=128, context 128 (pre-LN, no dropout) is pretrained on the CPU for ``--pretrain-steps`` steps
   (800: batch 16, lr 1e-3, cosine to 1e-4, warmup 100; about 0.25 s a step on one quiet core, 1.3 passes over
   the 1.23M training tokens, validation loss 7.6 → 4.6). Torch runs one thread by default: on a 2-core
   machine shared with other jobs, two threads ran 10x slower (OpenMP spinning); pass ``--threads 2`` on an
   idle machine.
2. **Fine-tuning.** The sentiment set (UCI Sentiment Labelled Sentences, 3000 rows, positive/negative) is split
   once, stratified, into 90% train and a held-out 10% validation set (seed 0). For each seed the same
   fine-tuning runs twice with :func:`gpt_studio.engine.finetune.compare_with_scratch`: from the pretrained
   weights, and from scratch (``layers_transferred=0``, fresh embeddings), with the same steps, batches, head
   initialisation and seed. Settings: ``--epochs`` (3), batch 32, ``--lr``, λ = ``--aux-lm`` (0.5), linear
   warmup over 0.2% then linear decay, head dropout 0.1 (GPT-1's recipe except the learning rate: 6.25e-5 is
   tuned for a 117M-parameter model and moves a 1M-parameter one too little in ~250 steps: one seed, full
   train split, 800 pretraining steps gave 0.693 pretrained / 0.723 scratch at 6.25e-5, 0.787 / 0.790 at
   2.5e-4 and 0.817 / 0.803 at 1e-3).
3. **Table.** Validation accuracy (and macro-F1) of the best evaluation per seed, mean ± sample sd over the
   seeds, and the difference. The majority-class baseline is 50% (the set is balanced).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATASETS = ROOT.parent / "shared" / "datasets"
SOURCES = [DATASETS / "war_and_peace" / "war_and_peace_body.txt", DATASETS / "tinyshakespeare" / "input.txt"]
SENTIMENT = DATASETS / "sentiment_labelled_sentences" / "sentiment.csv"
MODEL = {"n_layer": 4, "n_head": 4, "d_model": 128, "context_length": 128, "dropout": 0.0}
PRETRAIN = {"batch_size": 16, "lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 100, "weight_decay": 0.1,
            "eval_interval": 500, "eval_batches": 20, "checkpoint_interval": 100_000, "sample_tokens": 0, "seed": 1337}


def build_project(folder: Path, vocab_size: int) -> Any:
    """init → import (War and Peace + Shakespeare) → BPE tokenizer → encode, as the CLI runs them."""
    from gpt_studio.engine.corpus import import_corpus
    from gpt_studio.engine.data import encode_corpus
    from gpt_studio.engine.project import init_project
    from gpt_studio.engine.tokenizer import TokenizerSettings, train_tokenizer

    project = init_project(folder)
    manifest = import_corpus(project, SOURCES)
    meta = train_tokenizer(project, TokenizerSettings(model_type="bpe", vocab_size=vocab_size))
    encoded = encode_corpus(project)
    return project, {"documents": manifest["stats"]["documents"], "characters": manifest["stats"]["characters"],
                     "vocab_size": meta["vocab_size"], "train_tokens": encoded["splits"]["train"]["tokens"],
                     "val_tokens": encoded["splits"]["val"]["tokens"]}


def reopen_project(folder: Path) -> Any:
    """An already built project (``--base``): its shards' figures, without importing or encoding again."""
    from gpt_studio.engine.data import load_meta
    from gpt_studio.engine.project import open_project

    project = open_project(folder)
    meta = load_meta(project)
    return project, {"documents": None, "characters": None, "vocab_size": meta["vocab_size"],
                     "train_tokens": meta["splits"]["train"]["tokens"], "val_tokens": meta["splits"]["val"]["tokens"]}


def main() -> int:
    """Run the benchmark and print the table (and a JSON line with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs to check the plumbing (~1 min)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--pretrain-steps", type=int, default=None, help="default 800 (quick: 80)")
    parser.add_argument("--epochs", type=int, default=None, help="fine-tuning epochs (default 3; quick: 1)")
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tuning peak learning rate (default 1e-3)")
    parser.add_argument("--aux-lm", type=float, default=0.5, help="λ of the auxiliary LM loss (default 0.5)")
    parser.add_argument("--seeds", default="1,2,3", help="fine-tuning seeds (default 1,2,3)")
    parser.add_argument("--max-train", type=int, default=None, help="cap the training rows (quick: 600)")
    parser.add_argument("--vocab-size", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on a shared 2-core machine 2 threads ran 10x slower)")
    parser.add_argument("--project", type=Path, help="reuse/keep the project here (default: a temp folder)")
    parser.add_argument("--base", help="fine-tune from this pretrained run of --project instead of pretraining again")
    args = parser.parse_args()

    import torch

    from gpt_studio.engine.finetune import FinetuneConfig, compare_with_scratch
    from gpt_studio.engine.finetune_data import ColumnMap, load_task_data, stratified_split, subsample
    from gpt_studio.engine.pretrain import pretrain
    from gpt_studio.engine.runs import find_run

    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.pretrain_steps or (80 if args.quick else 800)
    epochs = args.epochs or (1 if args.quick else 3)
    max_train = args.max_train or (600 if args.quick else None)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    started = time.perf_counter()
    temp = None
    if args.project is None:
        temp = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
        folder = temp / "proj"
    else:
        folder = args.project
    try:
        t0 = time.perf_counter()
        project, corpus = reopen_project(folder) if args.base else build_project(folder, args.vocab_size)
        prep_seconds = time.perf_counter() - t0
        print(f"corpus: {corpus['documents']} documents, {corpus['characters'] or 0:,} characters; BPE "
              f"{corpus['vocab_size']}; {corpus['train_tokens']:,} train / {corpus['val_tokens']:,} val tokens "
              f"({prep_seconds:.0f} s)", file=sys.stderr)
        t0 = time.perf_counter()
        if args.base:
            summary = find_run(project, args.base).read()["summary"]
            steps = summary["steps"]
        else:
            summary = pretrain(project, preset_name="tiny-gpt", settings={**MODEL, **PRETRAIN}, max_steps=steps)
        pretrain_seconds = time.perf_counter() - t0
        print(f"pretrained {summary['run_id']}: {steps} steps, {summary['parameters']:,} parameters, val loss "
              f"{summary['initial_val_loss']:.3f} → {summary['final_val_loss']:.3f} ({pretrain_seconds:.0f} s)",
              file=sys.stderr)

        data = load_task_data(SENTIMENT, "classification", ColumnMap(text="text", label="label"))
        train, validation = stratified_split(data, 0.1, seed=0)
        if max_train:
            train = subsample(train, max_train, seed=0)
        config = FinetuneConfig(task="classification", epochs=epochs, lr=args.lr, batch_size=32,
                                aux_lm_weight=args.aux_lm, device="cpu")
        t0 = time.perf_counter()
        table = compare_with_scratch(project, summary["run_id"], train, config, eval_data=validation, seeds=seeds)
        finetune_seconds = time.perf_counter() - t0
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    print(f"\nSentiment (UCI), {len(train.examples)} train / {len(validation.examples)} held-out validation rows; "
          f"{epochs} epoch(s), lr {args.lr:g}, λ {args.aux_lm:g}; best validation accuracy (macro-F1)")
    print(f"{'seed':>6}  {'pretrained':>16}  {'scratch':>16}")
    for row in table["runs"]:
        p, s = row["pretrained"], row["scratch"]
        print(f"{row['seed']:>6}  {p['accuracy']:>7.4f} ({p['macro_f1']:.3f})  "
              f"{s['accuracy']:>7.4f} ({s['macro_f1']:.3f})")
    p, s = table["pretrained"], table["scratch"]
    print(f"{'mean':>6}  {p['mean']:>7.4f} ± {p['sd']:.4f}  {s['mean']:>7.4f} ± {s['sd']:.4f}")
    print(f"pretrained − scratch: {table['difference']:+.4f} accuracy (majority class: 0.5000)")
    print(f"times: data {prep_seconds:.0f} s, pretraining {pretrain_seconds:.0f} s, fine-tuning "
          f"{finetune_seconds:.0f} s ({2 * len(seeds)} runs), total {time.perf_counter() - started:.0f} s")
    if args.json:
        print(json.dumps({
            "benchmark": "transfer", "quick": args.quick, "corpus": corpus,
            "pretrain": {"steps": steps, "parameters": summary["parameters"], "model": MODEL, "settings": PRETRAIN,
                         "initial_val_loss": summary["initial_val_loss"], "final_val_loss": summary["final_val_loss"],
                         "seconds": round(pretrain_seconds, 1)},
            "finetune": {"train_examples": len(train.examples), "val_examples": len(validation.examples),
                         "epochs": epochs, "lr": args.lr, "aux_lm_weight": args.aux_lm, "batch_size": 32,
                         "seconds": round(finetune_seconds, 1)},
            "seeds": list(table["seeds"]),
            "pretrained_accuracy": [r["pretrained"]["accuracy"] for r in table["runs"]],
            "scratch_accuracy": [r["scratch"]["accuracy"] for r in table["runs"]],
            "pretrained_macro_f1": [r["pretrained"]["macro_f1"] for r in table["runs"]],
            "scratch_macro_f1": [r["scratch"]["macro_f1"] for r in table["runs"]],
            "pretrained_mean": p["mean"], "pretrained_sd": p["sd"], "scratch_mean": s["mean"], "scratch_sd": s["sd"],
            "difference": table["difference"], "total_seconds": round(time.perf_counter() - started, 1),
            "machine": {"platform": platform.platform(), "torch": torch.__version__,
                        "threads": torch.get_num_threads()},
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
