"""Zero-shot heuristics of the GPT-1 paper (§5): a language model chooses, untrained, by comparing log-probabilities.

The heuristics, each comparing the log-probabilities the model gives to candidate texts:

- label words: append each label's word to a template ("{text} very" + " positive" / " negative", as GPT-1 did
  for SST-2) and compare;
- multiple choice: the log-probability of each answer given the context, normalised as lm-evaluation-harness
  does (sum = ``acc``, per character = ``acc_norm``) or per token (GPT-1's average);
- Winograd pronoun substitution: put each candidate in the pronoun's place and score only what follows it
  (Trinh & Le's "partial" scoring, which GPT-1 uses);
- acceptability: the mean token log-probability, compared with a threshold by the caller.

Every heuristic works on both families: a masked model scores with pseudo-log-likelihood (see :mod:`logprobs`).
Public names are re-exported by :mod:`scoring`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.logprobs import TokenScore, conditional_logprobs, token_surprisal
from gpt_studio.engine.model import Transformer
from gpt_studio.engine.tokenizer import Tokenizer

NORMALISATIONS = ("sum", "token", "char")
NORMALISATION_HELP = {
    "sum": "Sum: the answer's total log-probability (lm-evaluation-harness acc); favours short answers.",
    "token": "Per token: the mean log-probability of the answer's tokens (GPT-1's average); less length bias.",
    "char": "Per character: total log-probability ÷ the answer's length in characters (lm-evaluation-harness "
            "acc_norm); independent of how the tokenizer cuts words.",
}
DEFAULT_TEMPLATE = "{text} very"
DEFAULT_LABEL_WORDS: Mapping[str, str] = MappingProxyType({"positive": " positive", "negative": " negative"})
POSSESSIVE_PRONOUNS = frozenset({"his", "her", "its", "their", "my", "our", "your"})
_ARTICLES = ("The ", "A ", "An ")


def check_normalisation(normalisation: str) -> None:
    """Refuse an unknown normalisation, naming the valid ones."""
    if normalisation not in NORMALISATIONS:
        raise StudioError(f"Unknown normalisation {normalisation!r}; use one of {', '.join(NORMALISATIONS)} "
                          "(sum, mean per token, or per character).")


def normalise(scores: list[TokenScore], answer: str, normalisation: str) -> float:
    """One number for an answer from its tokens' log-probabilities (see :data:`NORMALISATION_HELP`)."""
    total = sum(s.logprob for s in scores)
    if normalisation == "token":
        return total / max(len(scores), 1)
    if normalisation == "char":
        return total / max(len(answer.strip()), 1)
    return total


def choice_pairs(context: str, choices: list[str], delimiter: str = " ") -> list[tuple[str, str]]:
    """The (context, continuation) scored for each answer: joined by ``delimiter`` unless a space is already there."""
    pairs = []
    for choice in choices:
        seam = context and not context[-1].isspace() and not choice[:1].isspace()
        pairs.append((context, (delimiter if seam else "") + choice))
    return pairs


def score_choices(model: Transformer, tokenizer: Tokenizer, context: str, choices: list[str], *,
                  normalisation: str = "token", delimiter: str = " ", batch_size: int = 32) -> list[float]:
    """Score of each answer given the context (higher = more likely); the argmax is the model's choice."""
    check_normalisation(normalisation)
    if not choices:
        raise StudioError("Give at least one answer to score.")
    pairs = choice_pairs(context, choices, delimiter)
    scored = conditional_logprobs(model, tokenizer, pairs, batch_size=batch_size)
    return [normalise(s, choice, normalisation) for s, choice in zip(scored, choices, strict=True)]


def label_word_strings(text: str, template: str = DEFAULT_TEMPLATE,
                       words: Mapping[str, str] = DEFAULT_LABEL_WORDS) -> dict[str, str]:
    """The exact string scored for each label (``template.format(text=text) + word``), for a live preview."""
    context = fill_template(template, text)
    return {label: context + word for label, word in words.items()}


def fill_template(template: str, text: str) -> str:
    """``template.format(text=text)``, or a message saying what a template may contain."""
    if "{text}" not in template:
        raise StudioError(f"The template {template!r} has no {{text}} placeholder; write e.g. \"{DEFAULT_TEMPLATE}\".")
    try:
        return template.format(text=text)
    except (KeyError, IndexError, ValueError) as exc:
        raise StudioError(f"The template {template!r} may contain only the {{text}} placeholder "
                          f"(write {{{{ and }}}} for literal braces): {exc}.") from exc


def label_words(model: Transformer, tokenizer: Tokenizer, text: str, *, template: str = DEFAULT_TEMPLATE,
                words: Mapping[str, str] = DEFAULT_LABEL_WORDS, normalisation: str = "sum",
                batch_size: int = 32) -> dict[str, float]:
    """Label -> log-probability of its word after the filled template (a word of several tokens: summed)."""
    check_normalisation(normalisation)
    if not words:
        raise StudioError("Give at least one label word (label=word).")
    context = fill_template(template, text)
    pairs = [(context, word) for word in words.values()]
    scored = conditional_logprobs(model, tokenizer, pairs, batch_size=batch_size)
    return {label: normalise(s, word, normalisation) for (label, word), s in zip(words.items(), scored, strict=True)}


def winograd_pair(sentence: str, pronoun_index: int, pronoun: str, option: str) -> tuple[str, str]:
    """(sentence up to the pronoun with the option in its place, the rest after the pronoun).

    A possessive pronoun takes "'s" (her counts as possessive, as in WSC273); a leading "The/A/An" is
    lower-cased mid-sentence and the option is capitalised when the pronoun starts the sentence.
    """
    found = sentence[pronoun_index:pronoun_index + len(pronoun)]
    if not pronoun or found.lower() != pronoun.lower():
        raise StudioError(f"The pronoun {pronoun!r} is not at character {pronoun_index} of the sentence "
                          f"(found {found!r} there); pronoun_index counts characters from 0.")
    before, after = sentence[:pronoun_index], sentence[pronoun_index + len(pronoun):]
    text = option.strip()
    if pronoun.lower() in POSSESSIVE_PRONOUNS and not text.endswith("'s"):
        text += "'s"
    if not before.strip():
        text = text[:1].upper() + text[1:]
    elif text.startswith(_ARTICLES):
        text = text[:1].lower() + text[1:]
    return before + text, after


def winograd(model: Transformer, tokenizer: Tokenizer, sentence: str, pronoun_index: int, pronoun: str,
             options: list[str], *, batch_size: int = 32) -> list[float]:
    """Score of each candidate for the pronoun: log P(the words after the pronoun | sentence with it substituted).

    The part after the pronoun is the same for every candidate, so the sums compare directly (partial
    scoring). A pronoun at the very end leaves nothing to score; the candidates themselves are then scored.
    """
    pairs = [winograd_pair(sentence, pronoun_index, pronoun, option) for option in options]
    return score_winograd_pairs(model, tokenizer, pairs, batch_size=batch_size)


def score_winograd_pairs(model: Transformer, tokenizer: Tokenizer, pairs: list[tuple[str, str]], *,
                         batch_size: int = 32) -> list[float]:
    """Partial scores of (substituted prefix, rest) pairs; see :func:`winograd`."""
    if all(rest.strip() for _, rest in pairs):
        return [normalise(s, "", "sum") for s in conditional_logprobs(model, tokenizer, pairs, batch_size=batch_size)]
    full = [("", prefix + rest) for prefix, rest in pairs]  # nothing after the pronoun: score whole sentences
    scored = conditional_logprobs(model, tokenizer, full, batch_size=batch_size)
    return [normalise(s, "", "token") for s in scored]  # whole sentences differ in length: mean per token


def acceptability(model: Transformer, tokenizer: Tokenizer, text: str) -> float:
    """Mean token log-probability of ``text`` (pseudo-log-likelihood for a masked model); higher = more fluent."""
    scores = token_surprisal(model, tokenizer, text, top_k=0)
    if not scores:
        raise StudioError("The text is empty; there is nothing to score.")
    return sum(s.logprob for s in scores) / len(scores)
