"""Supervised fine-tuning with the GPT-1 input transformations, on the same events and controls as pretraining.

CONTRACT (written before the implementation so the engine and the Fine-tune wizard can be built in parallel):
the names, fields and signatures below are the public API. Implementation notes:

- Special tokens (the tokenizer's reserved ids): GPT start = ``<s>`` (bos), delimiter = ``[SEP]``, extract =
  ``[CLS]``; the head reads the final hidden state at the extract token. BERT: ``[CLS] a [SEP] b [SEP]`` with
  token types 0/1; the head reads [CLS] (through the pooler when the model has one). A model imported from
  Hugging Face brings its own tokenizer (:mod:`hf_tokenizer`): GPT-2 starts with ``<|endoftext|>`` and gets the
  importer's new ``<|sep|>`` / ``<|cls|>`` ids as delimiter and extract (it has neither); BERT has its own.
- Similarity: both orderings run through the body; the two representations are added, then the head.
- Multiple choice: one sequence per answer, a linear head to one score each, softmax over the answers.
- Loss L2 (cross-entropy; MSE for regression) plus ``aux_lm_weight`` · L1 (next-token loss on the input
  sequences for GPT, masked-LM loss for BERT); ``aux_lm_weight = 0`` turns it off. Regression trains on
  standardised scores (the training file's mean and standard deviation, kept in finetune.json).
- ``layers_transferred`` of the pretrained blocks are copied (the first K); the rest and the head start fresh
  (the model's own init). ``transfer_embeddings`` says whether token/position embeddings come from the base;
  K = 0 with ``transfer_embeddings=False`` is the untrained baseline. ``freeze_body`` trains the head only.
- Truncation rule (stated in the report): the longest text of the pair is cut from its end, one token at a
  time, until the sequence fits the context; counted per example.
- Events: the trainer's ``StepEvent`` (step, loss, lr, grad_norm, tokens_seen, tokens_per_second,
  elapsed_seconds), :class:`FinetuneEvalEvent` after each epoch (and every ``eval_interval`` steps if > 0),
  the trainer's ``ErrorEvent`` and ``EndEvent`` (summary = :meth:`FinetuneResult.to_dict`). ``TrainControl``
  pause / stop works as in pretraining; a stop still evaluates and saves the best model so far.
- Bases: a pretraining run's checkpoint, a saved fine-tuned model (``finetune.json``; its head is dropped) or a
  model imported from Hugging Face (``source.json``, weights under the Transformer's own names, no prefix).
- Saved model folder ``PROJECT/models/<name>/`` (written atomically, staged beside and renamed):
  ``model.safetensors`` (body + head), ``config.json`` (the ModelConfig), ``finetune.json`` (task, labels,
  regression, columns, base, FinetuneConfig, metrics, tokenizer sha256), the tokenizer so the folder is
  self-contained (SentencePiece: copies of ``tokenizer.model`` and ``tokenizer.json``; Hugging Face: its
  ``tokenizer.json`` and ``tokenizer_roles.json``), ``predictions.csv`` (validation rows with probabilities),
  ``metrics.jsonl``.

The implementation lives in ``finetune_config`` (settings, results, file names), ``finetune_bases`` (what to
start from), ``finetune_train`` (the loop and the saved folder), ``finetune_predict`` (inference, saved models
in use) and ``finetune_analyses`` (compare with scratch, sweep layers); this module keeps every public name.
"""

from gpt_studio.engine.finetune_analyses import compare_with_scratch, sweep_layers
from gpt_studio.engine.finetune_bases import _load_base, is_imported_model, list_bases, resolve_base, sequence_preview
from gpt_studio.engine.finetune_config import (
    CONFIG_FILE,
    EVAL_BATCH_SIZE,
    FINETUNE_FILE,
    FORMAT_VERSION,
    METRICS_FILE,
    PREDICTIONS_FILE,
    TOKENIZER_FILES,
    WEIGHTS_FILE,
    BaseModel,
    FinetuneConfig,
    FinetuneEvalEvent,
    FinetuneResult,
)
from gpt_studio.engine.finetune_predict import evaluate_model, model_info, predict
from gpt_studio.engine.finetune_train import finetune

__all__ = [
    "CONFIG_FILE", "EVAL_BATCH_SIZE", "FINETUNE_FILE", "FORMAT_VERSION", "METRICS_FILE", "PREDICTIONS_FILE",
    "TOKENIZER_FILES", "WEIGHTS_FILE", "BaseModel", "FinetuneConfig", "FinetuneEvalEvent", "FinetuneResult",
    "_load_base", "compare_with_scratch", "evaluate_model", "finetune", "is_imported_model", "list_bases",
    "model_info", "predict", "resolve_base", "sequence_preview", "sweep_layers",
]
