"""The run form's field table: every model and trainer setting as one :class:`FieldSpec` row, plus the families.

Declared once as data so "every field" stays true when the engine grows one: the form builds an editor per
row (:mod:`field_editor`) and validates them together (:mod:`form_checks`). Labels, units and tooltips
live here, so the words a person reads about a setting are in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gpt_studio.engine.trainer_config import PRECISIONS, SCHEDULES, TrainConfig

INT_MAX = 2**31 - 1

FAMILIES: tuple[tuple[str, bool, str], ...] = (  # label, causal, description (first line shown, all as tooltip)
    ("GPT — causal decoder", True,
     "Predicts each next token from the ones before it; it can generate text.\n"
     "Causal objective: next-token cross-entropy at every position, with attention masked so that position t "
     "never sees t+1 (GPT-1, GPT-2, nanoGPT)."),
    ("BERT — masked encoder", False,
     "Sees the whole sequence at once and learns to fill in hidden tokens; for classifying and embedding text.\n"
     "Masked objective: 15% of the tokens are chosen; of those 80% become [MASK], 10% a random token and 10% "
     "stay unchanged (80/10/10), so the model cannot rely on seeing [MASK]. With a next-sentence head (NSP) it "
     "also learns whether segment B really follows segment A."),
)


@dataclass(frozen=True)
class FieldSpec:
    """One editable setting: its ``ModelConfig``/``TrainConfig`` key, label, editor kind and explanation."""

    key: str
    label: str
    kind: str  # int | float | sci | opt_sci | bool | choice | probes
    tip: str
    lo: float = 0
    hi: float = INT_MAX
    step: float = 1
    decimals: int = 2
    choices: tuple[tuple[str, Any], ...] = ()  # (label, value) for kind == "choice"
    special: str = ""  # what the minimum of a number shows (e.g. "off")
    none_at_min: bool = False  # the minimum means None (d_ff: 4 × width)
    suffix: str = ""


F = FieldSpec
MODEL_FIELDS = (
    F("n_layer", "Layers", "int", "Transformer blocks stacked. Parameters and compute grow linearly with it.", 1, 256),
    F("n_head", "Heads", "int", "Attention heads per block. Each head works on width / heads dimensions, so the "
      "width must be divisible by the number of heads.", 1, 1024),
    F("d_model", "Width (d_model)", "int", "Size of each token's vector in the residual stream; parameters grow "
      "with its square.", 1, 65536, 32),
    F("d_ff", "Feed-forward width", "int", "Hidden width of each block's MLP; auto = 4 × width, as in GPT and BERT.",
      0, 262144, 64, special="auto (4 × width)", none_at_min=True),
    F("context_length", "Context", "int", "Longest sequence the model sees at once; every training window has this "
      "length. Attention cost grows with its square.", 1, 65536, 32, suffix=" tokens"),
    F("dropout", "Dropout", "float", "Share of activations zeroed during training. 0 lets a small model fit fast; "
      "0.1 is the GPT/BERT setting for large data.", 0, 0.95, 0.05),
    F("prenorm", "Pre-LayerNorm", "bool", "On: LayerNorm before each sub-layer plus a final one (GPT-2, nanoGPT; "
      "steadier). Off: after each residual sum (GPT-1, BERT)."),
    F("nsp_head", "Next-sentence head", "bool", "BERT only: a pooler and a two-way classifier that learn whether "
      "segment B really follows segment A (next-sentence prediction, NSP)."),
)
TRAIN_SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    ("Batch and schedule", (
        F("batch_size", "Batch size", "int", "Sequences per micro-batch. Memory grows with it: if it does not fit, "
          "halve it and double the accumulation.", 1, 65536),
        F("grad_accum", "Accumulation", "int", "Micro-batches summed per optimizer step: batch × accumulation "
          "sequences per step without the memory of a bigger batch.", 1, 65536),
        F("lr", "Learning rate", "sci", "Peak learning rate, reached after warmup: 6e-4 suits small GPTs, BERT-Base "
          "used 1e-4. Too high: the loss jumps or becomes NaN."),
        F("min_lr", "Minimum rate", "opt_sci", "Where the decay ends; empty = peak / 10."),
        F("warmup_steps", "Warmup", "int", "Steps of linear ramp from 0 to the peak rate; avoids early divergence.",
          0, INT_MAX, 10, suffix=" steps"),
        F("schedule", "Schedule", "choice", "Decay after warmup: cosine (GPT-3), linear (BERT) or constant.",
          choices=tuple((s, s) for s in SCHEDULES)),
        F("max_steps", "Steps", "int", "Optimizer steps in the run; the token budget below sets it for you.",
          1, INT_MAX, 100),
        F("weight_decay", "Weight decay", "float", "AdamW decay of weight matrices (not norms, biases or "
          "embeddings).", 0, 1, 0.01),
        F("grad_clip", "Gradient clipping", "float", "Largest global gradient norm; 0 = off. 1.0 is the GPT/BERT "
          "default.", 0, 1000, 0.1, special="off"),
    )),
    ("Hardware", (
        F("device", "Device", "choice", "auto = the CUDA GPU, else Apple MPS, else the CPU. Devices this machine "
          "does not have are greyed out.", choices=(("auto", "auto"), ("CPU", "cpu"), ("CUDA GPU", "cuda"),
                                                    ("Apple MPS", "mps"))),
        F("precision", "Precision", "choice", "fp32 works everywhere. bf16 halves activation memory and is faster on "
          "recent GPUs and CPUs. fp16 needs a CUDA GPU (with loss scaling).",
          choices=tuple((p, p) for p in PRECISIONS)),
        F("compile", "torch.compile", "bool", "Compile the model: a slow start (a minute or more) that can pay off on "
          "long GPU runs."),
    )),
    ("Evaluation and checkpoints", (
        F("eval_interval", "Evaluate every", "int", "Steps between validation evaluations (and text samples for a "
          "GPT).", 1, INT_MAX, 50, suffix=" steps"),
        F("eval_batches", "Eval batches", "int", "Batches averaged per evaluation: the same fixed batches every "
          "time, so points compare.", 1, 100_000),
        F("checkpoint_interval", "Checkpoint every", "int", "Steps between checkpoints; the last step and a stop "
          "always get one.", 1, INT_MAX, 100, suffix=" steps"),
        F("seed", "Seed", "int", "Seed of the initial weights and the data order: the same seed repeats a run.",
          0, INT_MAX),
    )),
)
ADVANCED = (
    F("bias", "Biases", "bool", "Biases in linear and LayerNorm layers (GPT-2 and BERT have them)."),
    F("gelu_approximate", "GELU", "choice", "The activation of the MLP: exact (erf), or GPT-2's tanh "
      "approximation.", choices=(("exact", "none"), ("tanh (GPT-2)", "tanh"))),
    F("layer_norm_eps", "LayerNorm ε", "sci", "Added to the variance in LayerNorm: 1e-5 (GPT), 1e-12 (BERT)."),
    F("type_vocab_size", "Segment types", "int", "Token-type embeddings: 0 for GPT, 2 for BERT's sentence A/B.", 0, 16),
    F("embed_layer_norm", "Embedding LayerNorm", "choice", "LayerNorm on the embeddings; auto = for post-LN models "
      "(BERT).", choices=(("auto", None), ("on", True), ("off", False))),
    F("keep_checkpoints", "Checkpoints kept", "int", "Newest checkpoints kept, plus the best by validation loss.",
      1, 1000),
    F("sample_tokens", "Sample length", "int", "Tokens a GPT generates at each evaluation.", 0, 4096,
      special="no samples", suffix=" tokens"),
    F("beta1", "Adam β1", "float", "AdamW's first-moment decay.", 0, 0.9999, 0.01, decimals=4),
    F("beta2", "Adam β2", "float", "AdamW's second-moment decay: 0.95 is steadier than 0.999 for small-batch "
      "language-model training.", 0, 0.9999, 0.001, decimals=4),
    F("eps", "Adam ε", "sci", "AdamW's denominator epsilon."),
    F("mlm_probability", "Mask share", "float", "BERT: share of tokens chosen for the masked-LM loss (15% in BERT); "
      "of those 80% → [MASK], 10% → a random token, 10% unchanged.", 0.01, 0.99, 0.01),
    F("nsp", "Next-sentence task", "choice", "BERT: train next-sentence prediction; auto = when the model has an NSP "
      "head.", choices=(("auto", None), ("on", True), ("off", False))),
    F("threads", "CPU threads", "int", "Threads torch trains with on the CPU; 0 = torch's default.", 0, 1024,
      special="default"),
    F("tensorboard", "TensorBoard log", "bool", "Also write TensorBoard event files to runs/<id>/tensorboard, for "
      "`tensorboard --logdir PROJECT/runs` (needs the optional tensorboard package)."),
    F("probes", "Zero-shot probes", "probes", "Datasets scored zero-shot at every evaluation, as TASK:FILE separated "
      "by ';' (label-words: a text,label CSV such as the sentiment set; multiple-choice: COPA-style JSONL; "
      "winograd: WSC JSONL). The monitor's zero-shot tab plots their accuracy against the steps, beside chance: "
      "GPT-1's view of zero-shot skill growing with pretraining. 200 evenly spaced items each."),
)


def train_keys() -> set[str]:
    """The keys of every ``TrainConfig`` field (the rest of the form's fields are model fields)."""
    return set(TrainConfig.__dataclass_fields__)
