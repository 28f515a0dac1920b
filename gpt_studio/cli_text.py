"""Plain-text summaries of the CLI verbs' results, for people (``--json`` prints the whole result instead)."""

from __future__ import annotations

from typing import Any

from gpt_studio.ui.widgets.wording import noun, plural  # plain Python: no Qt comes with it


def human(verb: str, result: dict[str, Any]) -> str:
    """A short plain-text summary for people (the JSON has everything)."""
    if verb in ("zero-shot", "fill-mask", "generate"):  # the Playground verbs (issue 7) summarise themselves
        from gpt_studio.cli_playground import human as playground_human

        return playground_human(verb, result)
    if verb == "import":
        lines = [f"Imported {plural(result['documents'], 'document')}, {result['characters']:,} characters "
                 f"({plural(result['duplicates_removed'], 'duplicate')} removed); split by {result['split_mode']}: "
                 f"{result['train_documents']:,} train / {result['val_documents']:,} validation "
                 f"{noun(result['val_documents'], 'document')}."]
        for src in result["sources"]:
            note = f" — {src['reason']}" if src["reason"] else ""
            lines.append(f"  {src['status']:>8}  {src['path']} ({plural(src['documents'], 'doc')}){note}")
            lines.extend(f"            {w}" for w in src["warnings"][:5])
        return "\n".join(lines)
    if verb == "tokenizer" and result.get("range"):
        return "\n".join([result["message"], *([result["vocab_size_problem"]] if result["vocab_size_problem"] else [])])
    if verb == "tokenizer":
        return (f"Trained a {result['model_type']} tokenizer with {result['vocab_size']} pieces in "
                f"{result['train_seconds']} s; fertility {result['fertility']} tokens/word, unknown rate "
                f"{result['unknown_rate']:.4%} on the validation split.")
    if verb == "pretrain":
        return (f"Run {result['run_id']} {result['reason']} at step {result['steps']}: val loss "
                f"{result['final_val_loss']:.4f} (perplexity {result['val_perplexity']:.2f}), "
                f"{result['tokens_per_second'] or 0:,.0f} tokens/s, {result['wall_seconds']:.1f} s.")
    if verb == "encode":
        notes = "".join(f"\nNote: {n}" for n in result["notes"])
        return (f"Encoded {result['train_tokens']:,} train and {result['val_tokens']:,} validation tokens "
                f"({result['dtype']}) in {result['encode_seconds']} s "
                f"({result['tokens_per_second']:,} tokens/s).{notes}")
    if verb == "finetune" and "analysis" in result:
        return _analysis_table(result)
    if verb == "finetune":
        main = (f"accuracy {result['val_accuracy']:.4f}, macro-F1 {result['val_macro_f1']:.4f}"
                if result["val_accuracy"] is not None else
                f"Pearson {result['val_pearson']:.4f}, Spearman {result['val_spearman']:.4f}")
        return (f"Fine-tuned {result['task']} ({result['reason']}, {result['epochs']:g} epochs, {result['steps']} "
                f"steps): best validation {main} at step {result['best_step']} on {result['val_examples']} "
                f"examples; {result['truncated']} examples truncated.\nSaved to {result['model_path']}")
    if verb == "predict":
        where = f" to {result['out_path']}" if result["out_path"] else ""
        metrics = result["metrics"]
        score = ""
        if metrics and metrics["val_accuracy"] is not None:
            score = f"; accuracy {metrics['val_accuracy']:.4f}, macro-F1 {metrics['val_macro_f1']:.4f}"
        elif metrics:
            score = f"; Pearson {metrics['val_pearson']:.4f}, Spearman {metrics['val_spearman']:.4f}"
        lines = [f"Predicted {result['rows']} rows{where}{score}."]
        for item in result.get("predictions", [])[:10]:
            lines.append(f"  row {item['row']}: {item.get('predicted', item.get('score'))}")
        return "\n".join(lines)
    return "\n".join(f"{k}: {v}" for k, v in result.items() if k != "ok")


def _analysis_table(result: dict[str, Any]) -> str:
    """compare-scratch / sweep-layers as a plain table."""
    metric = result["metric"]
    if result["analysis"] == "compare-scratch":
        lines = [f"{'seed':>6}  {'pretrained':>10}  {'scratch':>10}   ({metric})"]
        for row in result["runs"]:
            lines.append(f"{row['seed']:>6}  {row['pretrained']['metric']:>10.4f}  {row['scratch']['metric']:>10.4f}")
        p, s = result["pretrained"], result["scratch"]
        lines.append(f"{'mean':>6}  {p['mean']:>7.4f}±{p['sd']:.3f}  {s['mean']:>7.4f}±{s['sd']:.3f}")
        lines.append(f"pretrained − scratch: {result['difference']:+.4f}")
        return "\n".join(lines)
    lines = [f"{'layers':>6}  {metric:>10}  {'sd':>6}"]
    for point in result["points"]:
        lines.append(f"{point['layers']:>6}  {point['metric']:>10.4f}  {point['sd']:>6.3f}")
    return "\n".join(lines)
