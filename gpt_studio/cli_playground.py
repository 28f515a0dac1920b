"""The Playground's verbs on the command line: ``zero-shot``, ``fill-mask`` and ``generate``.

They follow :mod:`gpt_studio.cli`'s conventions (that module registers them with :func:`add_verbs`): torch is
imported only when a verb runs, so ``--help`` stays light; with ``--json`` the last stdout line is one JSON
object; a user error exits 1 with ``{"ok": false, "error": ...}``. ``MODEL`` is what
:func:`gpt_studio.engine.loading.load_model` accepts: a checkpoint, run or saved-model folder, a run id,
``RUN_ID@STEP`` or a saved model's name in ``--project`` (default: the current directory).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from gpt_studio.engine.errors import StudioError

VERBS = ("zero-shot", "fill-mask", "generate")
TASKS = ("label-words", "multiple-choice", "winograd")  # = engine.zero_shot_data.ZERO_SHOT_TASKS (no torch here)
NORMALISATIONS = ("sum", "token", "char")  # = engine.zero_shot.NORMALISATIONS


def _load(args: argparse.Namespace) -> Any:
    from gpt_studio.engine.loading import load_model
    from gpt_studio.engine.project import open_project

    project = open_project(args.project) if args.project else None
    if not args.quiet:
        print(f"Loading {args.model} ...", file=sys.stderr, flush=True)
    return load_model(args.model, project, device=args.device)


def _user_errors(handler: Callable[[argparse.Namespace], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Engine checks of user input raise ValueError (e.g. sampling settings): report them as user errors."""

    def run(args: argparse.Namespace) -> dict[str, Any]:
        try:
            return handler(args)
        except ValueError as exc:
            raise StudioError(str(exc)) from exc

    return run


def _label_words(pairs: list[str], template: str | None) -> dict[str, str] | None:
    """``LABEL=WORD`` options; a word gets a leading space unless it has one or the template ends in one."""
    if not pairs:
        return None
    words = {}
    for pair in pairs:
        label, sep, word = pair.partition("=")
        if not sep or not label.strip() or not word.strip():
            raise StudioError(f"--label-word expects LABEL=WORD (e.g. positive=good), got {pair!r}.")
        glue = not word[:1].isspace() and not (template or "{text} very").endswith((" ", "\n"))
        words[label.strip()] = (" " if glue else "") + word
    return words


def _cmd_zero_shot(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.progress import stderr_reporter
    from gpt_studio.engine.scoring import zero_shot_dataset

    loaded = _load(args)
    options: dict[str, Any] = {"normalisation": args.normalisation}
    if args.task == "label-words":
        options.update(template=args.template, words=_label_words(args.label_word, args.template))
    elif args.template or args.label_word:
        raise StudioError(f"--template and --label-word apply to the label-words task, not {args.task}.")
    reporter = stderr_reporter(not args.quiet)
    report = zero_shot_dataset(loaded.model, loaded.tokenizer, args.data, args.task, options=options,
                               limit=args.limit, batch_size=args.batch_size,
                               progress=lambda done, total: reporter.progress(done, total, "Scoring"))
    return {"ok": True, "model": loaded.spec, "family": loaded.family, "data": str(args.data),
            **report.to_dict(rows=args.rows)}


def _cmd_fill_mask(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.scoring import fill_mask, show_piece

    loaded = _load(args)
    guesses = fill_mask(loaded.model, loaded.tokenizer, args.text, top_k=args.top_k)
    masks = [{"position": g.position,
              "guesses": [{"token": show_piece(piece), "piece": piece, "id": token, "probability": prob}
                          for token, piece, prob in zip(g.ids, g.pieces, g.probabilities, strict=True)]}
             for g in guesses]
    return {"ok": True, "model": loaded.spec, "family": loaded.family, "text": args.text, "masks": masks}


def _cmd_generate(args: argparse.Namespace) -> dict[str, Any]:
    from gpt_studio.engine.generate import GenerateOptions, GenerationStream

    options = GenerateOptions(max_new_tokens=args.max_tokens, temperature=args.temperature,
                              top_k=args.top_k or None, top_p=args.top_p, stop=list(args.stop), seed=args.seed,
                              use_cache=not args.no_cache)
    loaded = _load(args)
    stream = GenerationStream(loaded.model, loaded.tokenizer, args.prompt, options)
    for piece in stream:
        if not args.json:  # people watch the text arrive; --json prints it whole at the end
            sys.stdout.write(piece)
            sys.stdout.flush()
    count = len(stream.token_ids)
    speed = count / stream.seconds if stream.seconds > 0 else 0.0
    if not args.json and not args.quiet:
        print(f"\n[{count} tokens, {speed:.1f} tokens/s, stopped: {stream.stop_reason}]", file=sys.stderr)
    return {"ok": True, "model": loaded.spec, "family": loaded.family, "prompt": args.prompt, "text": stream.text,
            "tokens": count, "token_ids": stream.token_ids, "prompt_tokens": len(stream.prompt_ids),
            "stop_reason": stream.stop_reason, "seconds": stream.seconds, "tokens_per_second": speed,
            "cache": options.use_cache}


def human(verb: str, result: dict[str, Any]) -> str:
    """The plain-text summary for people (``--json`` has everything)."""
    if verb == "zero-shot":
        lines = [f"Zero-shot {result['task']} on {result['data']}: accuracy {result['accuracy']:.3f} over "
                 f"{result['n']} items (chance {result['chance']:.3f}, majority {result['majority']:.3f}; "
                 f"normalisation {result['normalisation']}; {result['seconds']:.1f} s)."]
        lines += [f"  {name}: recall {m['recall']:.3f}, precision {m['precision']:.3f}, f1 {m['f1']:.3f} "
                  f"({int(m['support'])} items)" for name, m in result["per_class"].items()]
        return "\n".join(lines)
    if verb == "fill-mask":
        return "\n".join(f"[MASK] {n}: " + " · ".join(f"{g['token']} {g['probability']:.1%}" for g in mask["guesses"])
                         for n, mask in enumerate(result["masks"], 1))
    return ""  # generate: the text was streamed as it came


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("model", metavar="MODEL", help="checkpoint, run or saved-model folder; run id, RUN_ID@STEP, "
                                                    "or a saved model's name")
    sub.add_argument("--project", default=None, help="project to look MODEL up in (default: the current folder)")
    sub.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    sub.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    sub.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def add_verbs(verbs: Any) -> None:
    """Register the Playground verbs on ``gpt-studio``'s subparsers (``verbs`` from add_subparsers)."""
    text = "Zero-shot accuracy of a model on a dataset file, against chance (GPT-1's heuristics; no training)."
    zs = verbs.add_parser("zero-shot", help=text, description=text)
    _common(zs)
    zs.add_argument("--data", required=True, metavar="FILE", help="CSV/TSV (text,label) or JSONL (COPA, WSC)")
    zs.add_argument("--task", required=True, choices=TASKS)
    zs.add_argument("--template", default=None, help='label-words: text before the word (default "{text} very")')
    zs.add_argument("--label-word", action="append", default=[], metavar="LABEL=WORD",
                    help="label-words: one per label (default positive=positive, negative=negative, as GPT-1)")
    zs.add_argument("--normalisation", choices=NORMALISATIONS, default=None,
                    help="sum, per token or per character (default: sum for label words and Winograd, "
                         "token for multiple choice)")
    zs.add_argument("--limit", type=_positive, default=None, help="score an evenly spaced subset of N rows")
    zs.add_argument("--batch-size", type=_positive, default=32,
                    help="items per forward pass, each with its answers (default 32)")
    zs.add_argument("--rows", action="store_true", help="include every item's scores in the JSON")
    zs.set_defaults(handler=_user_errors(_cmd_zero_shot))

    text = "A masked (BERT) model's top-k tokens for every [MASK] in a text."
    fm = verbs.add_parser("fill-mask", help=text, description=text)
    _common(fm)
    fm.add_argument("text", metavar="TEXT", help='text with one or more [MASK], e.g. "To be, or not to [MASK]"')
    fm.add_argument("--top-k", type=_positive, default=5)
    fm.set_defaults(handler=_user_errors(_cmd_fill_mask))

    text = "Continue a prompt with a causal (GPT) model; the text streams to stdout as it comes."
    gen = verbs.add_parser("generate", help=text, description=text)
    _common(gen)
    gen.add_argument("prompt", metavar="PROMPT", help='the text to continue ("" starts a new document)')
    gen.add_argument("--max-tokens", type=int, default=100, help="tokens to generate at most (default 100)")
    gen.add_argument("--temperature", type=float, default=0.8, help="0 = greedy, deterministic (default 0.8)")
    gen.add_argument("--top-k", type=int, default=40, help="sample among the k likeliest tokens; 0 = all (40)")
    gen.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default 1 = off)")
    gen.add_argument("--stop", action="append", default=[], metavar="TEXT", help="stop before this text (repeatable)")
    gen.add_argument("--seed", type=int, default=None, help="fix the sampling")
    gen.add_argument("--no-cache", action="store_true", help="recompute the window each token (slower; for tests)")
    gen.set_defaults(handler=_user_errors(_cmd_generate))
