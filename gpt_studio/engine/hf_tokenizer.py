"""Hugging Face tokenizers (byte-level BPE, WordPiece) behind the same interface as the engine's :class:`Tokenizer`.

An imported GPT-2 or BERT keeps its own vocabulary: its ids are the rows of its embedding, so the text must be
cut exactly as Hugging Face cuts it. The ``tokenizers`` library does the cutting, from ``tokenizer.json`` or,
for older folders, from ``vocab.json`` + ``merges.txt`` (byte-level BPE, GPT-2) or ``vocab.txt`` (WordPiece,
BERT), built the way ``transformers`` builds them. ``encode`` never adds special tokens (the engine's layout code
inserts them by id), as ``Tokenizer.encode`` does not.

The engine needs eight roles (pad, unk, bos, eos, mask, cls, sep, newline); published vocabularies have some.
The rule, applied in this order:

- a role takes the token the folder's ``tokenizer_config.json`` / ``special_tokens_map.json`` names, else a
  conventional name present in the vocabulary (``[CLS]``, ``<s>``, ``<|endoftext|>`` ...);
- ``cls`` and ``sep`` (GPT-1's *extract* and *delimiter*) that are still missing get **new ids after the
  vocabulary**, ``<|cls|>`` and ``<|sep|>``: GPT-1 learned new start/delimiter/extract embeddings for its
  fine-tuning inputs, and a delimiter that is also the end-of-text token would tell the model a new document
  starts. The importer initialises the new embedding rows to the mean row, so they start as an "average token";
  these ids are never produced from text (like SentencePiece control symbols) and decode to nothing;
- ``bos`` falls back to ``cls`` and ``eos`` to ``sep`` (BERT: ``[CLS] ... [SEP]``); GPT-2's start token is its
  ``<|endoftext|>``, which is also what generation puts before a prompt;
- ``unk`` and ``pad`` fall back to ``eos`` (GPT-2 has no padding: sequences are padded with ``<|endoftext|>``
  under an attention mask, or on the right of a causal model where no real position sees them);
- ``mask`` falls back to ``unk`` (a causal model never masks);
- ``newline`` is the single id a newline encodes to, or -1 when there is none (WordPiece treats it as a space).

A model whose embedding has more rows than the tokenizer has ids (vocabularies padded to a multiple of 64)
gets ``<|unused_N|>`` placeholders for those rows, so ids and rows stay aligned. Logit parity with the original
model holds on the original ids; the added ids only extend the vocabulary.

Saved next to an imported model: ``tokenizer.json`` (the ``tokenizers`` file, loadable by ``transformers``) and
``tokenizer_roles.json`` (the roles and added ids, so loading never guesses twice).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gpt_studio.engine.atomic import read_json, write_json, write_text
from gpt_studio.engine.errors import StudioError

HF_TOKENIZER_FILE = "tokenizer.json"  # the `tokenizers` library's file (same name as SentencePiece's meta)
ROLES_FILE = "tokenizer_roles.json"
ROLES_VERSION = 1
BPE_FILES = ("vocab.json", "merges.txt")
WORDPIECE_FILE = "vocab.txt"
CONFIG_FILES = ("tokenizer_config.json", "special_tokens_map.json")
NEW_CLS, NEW_SEP = "<|cls|>", "<|sep|>"
WORD_START = "\u2581"  # SentencePiece's visible space, which the app's piece displays expect
ROLES = ("pad", "unk", "bos", "eos", "mask", "cls", "sep")
CONVENTIONAL = {  # names tried when the folder's configuration does not name a role
    "pad": ("[PAD]", "<pad>"), "unk": ("[UNK]", "<unk>"), "bos": ("<s>", "<|endoftext|>"),
    "eos": ("</s>", "<|endoftext|>"), "mask": ("[MASK]", "<mask>"), "cls": ("[CLS]",), "sep": ("[SEP]",),
}


def _token_text(value: Any) -> str | None:
    """A special token as written in tokenizer_config.json: a string or an AddedToken dict."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _read_json_file(path: Path) -> Any:
    try:
        return read_json(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise StudioError(f"{path} cannot be read as JSON ({exc}); the tokenizer files are damaged.") from exc


def is_hf_tokenizer_json(path: Path) -> bool:
    """Whether ``path`` is a ``tokenizers`` file (it has a ``model`` object), not SentencePiece's meta file."""
    try:
        data = read_json(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("model"), dict)


def _tokenizer_config(folder: Path) -> dict[str, Any]:
    """Special-token names and options from tokenizer_config.json, completed by special_tokens_map.json."""
    merged: dict[str, Any] = {}
    for name in CONFIG_FILES:
        path = folder / name
        if path.is_file():
            data = _read_json_file(path)
            if isinstance(data, dict):
                merged = {**data, **{k: v for k, v in merged.items() if v is not None}}
    return merged


def _build_bpe(folder: Path, config: dict[str, Any]) -> Any:
    """Byte-level BPE from vocab.json + merges.txt, as ``transformers`` builds GPT-2's tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    try:
        model = models.BPE.from_file(str(folder / BPE_FILES[0]), str(folder / BPE_FILES[1]),
                                     continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False)
    except Exception as exc:  # noqa: BLE001 - the Rust side raises plain Exception for bad files
        raise StudioError(f"{folder / BPE_FILES[0]} / {BPE_FILES[1]} cannot be read as a BPE vocabulary ({exc}).") \
            from exc
    backend = Tokenizer(model)
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=bool(config.get("add_prefix_space", False)))
    backend.decoder = decoders.ByteLevel()
    return backend


def _build_wordpiece(folder: Path, config: dict[str, Any]) -> Any:
    """WordPiece from vocab.txt, as ``transformers`` builds BERT's tokenizer (lower-casing unless told not to)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    unk = _token_text(config.get("unk_token")) or "[UNK]"
    try:
        vocab = models.WordPiece.read_file(str(folder / WORDPIECE_FILE))
    except Exception as exc:  # noqa: BLE001 - the Rust side raises plain Exception for bad files
        raise StudioError(f"{folder / WORDPIECE_FILE} cannot be read as a WordPiece vocabulary ({exc}).") from exc
    backend = Tokenizer(models.WordPiece(vocab, unk_token=unk, max_input_chars_per_word=100))
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=bool(config.get("tokenize_chinese_chars", True)),
        strip_accents=config.get("strip_accents"), lowercase=bool(config.get("do_lower_case", True)))
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece(prefix="##")
    return backend


def _load_backend(folder: Path, config: dict[str, Any]) -> Any:
    """The ``tokenizers.Tokenizer`` of a folder: tokenizer.json first, else the vocabulary files."""
    from tokenizers import AddedToken, Tokenizer

    path = folder / HF_TOKENIZER_FILE
    if path.is_file() and is_hf_tokenizer_json(path):
        try:
            return Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - the Rust side raises plain Exception for bad files
            raise StudioError(f"{path} cannot be loaded by the tokenizers library ({exc}).") from exc
    if all((folder / name).is_file() for name in BPE_FILES):
        backend = _build_bpe(folder, config)
    elif (folder / WORDPIECE_FILE).is_file():
        backend = _build_wordpiece(folder, config)
    else:
        raise StudioError(f"No tokenizer in {folder}: expected tokenizer.json, vocab.json + merges.txt (GPT-2) "
                          "or vocab.txt (BERT). Copy the model's tokenizer files into the folder.")
    named = [_token_text(config.get(f"{role}_token")) for role in ROLES]
    specials = [t for t in dict.fromkeys(named) if t is not None and backend.token_to_id(t) is not None]
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return backend


class HFTokenizer:
    """A Hugging Face tokenizer with :class:`~gpt_studio.engine.tokenizer.Tokenizer`'s attributes and methods.

    ``folder`` is a saved one (``tokenizer_roles.json`` beside ``tokenizer.json``) or a Hugging Face model
    folder; for the latter, ``vocab_size`` is the model's embedding rows, so that placeholder ids fill any gap.
    """

    def __init__(self, folder: str | os.PathLike[str], vocab_size: int | None = None) -> None:
        self.folder = Path(folder)
        roles_path = self.folder / ROLES_FILE
        saved = _read_json_file(roles_path) if roles_path.is_file() else None
        if saved is not None and saved.get("format_version", 0) > ROLES_VERSION:
            raise StudioError(f"{roles_path} was written by a newer GPT Studio; upgrade to use this tokenizer.")
        config = {} if saved else _tokenizer_config(self.folder)
        self.backend = _load_backend(self.folder, config)
        spec = json.loads(self.backend.to_str())
        self._model_type = str(spec["model"].get("type", "unknown")).lower()
        self._style = _display_style(spec)
        self._shown: list[str] | None = None  # display piece per library id, built on first use
        self._ids_by_shown: dict[str, int] | None = None
        vocab = self.backend.get_vocab(with_added_tokens=True)
        self.base_vocab_size = max(vocab.values(), default=-1) + 1  # ids the tokenizers library knows
        if saved is not None:
            self.extra_tokens: list[str] = list(saved["extra_tokens"])
            ids = dict(saved["special_ids"])
        else:
            ids, self.extra_tokens = self._assign_roles(config, vocab_size)
        self._set_ids(ids)
        if vocab_size is not None and vocab_size > self.vocab_size:
            raise StudioError(f"The model has {vocab_size} embedding rows but the tokenizer in {self.folder} "
                              f"defines {self.vocab_size} ids; they do not belong together.")
        self.checksum: str = self._digest()
        self.meta: dict[str, Any] = {
            "format_version": ROLES_VERSION, "kind": "huggingface", "model_type": self.model_type,
            "special_ids": {**{role: getattr(self, f"{role}_id") for role in ROLES}, "newline": self.newline_id},
            "special_tokens": [self.raw_piece(i) for i in self.special_ids], "extra_tokens": list(self.extra_tokens),
            "base_vocab_size": self.base_vocab_size, "vocab_size": self.vocab_size, "model_sha256": self.checksum,
        }

    # ------------------------------------------------------------------------------------------ set-up

    def _assign_roles(self, config: dict[str, Any], vocab_size: int | None) -> tuple[dict[str, int], list[str]]:
        """Role ids by the module docstring's rule, and the added tokens (placeholders, then new roles)."""
        if vocab_size is not None and vocab_size < self.base_vocab_size:
            raise StudioError(f"The tokenizer in {self.folder} has {self.base_vocab_size} ids but the model only "
                              f"{vocab_size} embedding rows; they do not belong together.")
        gap = (vocab_size or self.base_vocab_size) - self.base_vocab_size
        extras = [f"<|unused_{n}|>" for n in range(gap)]
        ids: dict[str, int] = {}
        for role in ROLES:
            names = [_token_text(config.get(f"{role}_token")), *CONVENTIONAL[role]]
            found = [i for i in (self.backend.token_to_id(n) for n in names if n is not None) if i is not None]
            if found:
                ids[role] = found[0]
        for role, new in (("cls", NEW_CLS), ("sep", NEW_SEP)):
            if role not in ids:
                ids[role] = self.base_vocab_size + len(extras)
                extras.append(new)
        ids.setdefault("bos", ids["cls"])
        ids.setdefault("eos", ids["sep"])
        ids.setdefault("unk", ids["eos"])
        ids.setdefault("pad", ids["eos"])
        ids.setdefault("mask", ids["unk"])
        encoded = self.backend.encode("\n", add_special_tokens=False).ids
        ids["newline"] = encoded[0] if len(encoded) == 1 else -1
        return ids, extras

    def _set_ids(self, ids: dict[str, int]) -> None:
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = ids["pad"], ids["unk"], ids["bos"], ids["eos"]
        self.mask_id, self.cls_id, self.sep_id, self.newline_id = ids["mask"], ids["cls"], ids["sep"], ids["newline"]
        added = [t.content for t in self.backend.get_added_tokens_decoder().values() if t.special]
        backend_specials = [i for i in (self.backend.token_to_id(t) for t in added) if i is not None]
        extra_ids = range(self.base_vocab_size, self.vocab_size)
        self._special_ids = list(dict.fromkeys([self.pad_id, self.unk_id, self.bos_id, self.eos_id, self.mask_id,
                                                self.cls_id, self.sep_id, *backend_specials, *extra_ids]))
        self._special_set = set(self._special_ids)

    def _digest(self) -> str:
        """Ties runs and fine-tuned models to this exact tokenizer: the cutting rules plus the role ids."""
        roles = json.dumps({"special_ids": self.roles(), "extra_tokens": self.extra_tokens}, sort_keys=True)
        return hashlib.sha256((self.backend.to_str() + roles).encode("utf-8")).hexdigest()

    def roles(self) -> dict[str, int]:
        """Role name → id, newline included (-1: none)."""
        return {**{role: getattr(self, f"{role}_id") for role in ROLES}, "newline": self.newline_id}

    @property
    def model_type(self) -> str:
        """``bpe`` or ``wordpiece`` (the tokenizers model's type, lower-cased)."""
        return self._model_type

    # --------------------------------------------------------------------------- Tokenizer's interface

    @property
    def vocab_size(self) -> int:
        """Number of ids (the model's embedding rows), added ids included."""
        return self.base_vocab_size + len(self.extra_tokens)

    @property
    def special_ids(self) -> list[int]:
        """Ids that are never masked, sampled or shown as text: the roles (not newline) and every added id."""
        return list(self._special_ids)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without special tokens (the layout code adds them by id)."""
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many texts in one call (the library encodes them in parallel)."""
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; special and added tokens decode to nothing."""
        kept = [int(i) for i in ids if int(i) not in self._special_set and 0 <= int(i) < self.base_vocab_size]
        return self.backend.decode(kept, skip_special_tokens=True)

    def id_to_piece(self, token_id: int) -> str:
        """The vocabulary entry for an id as the app shows pieces: ``▁`` marks a space (see :func:`show_piece`)."""
        if self.base_vocab_size <= token_id < self.vocab_size:
            return self.extra_tokens[token_id - self.base_vocab_size]
        if not 0 <= token_id < self.base_vocab_size:
            raise IndexError(f"token id {token_id} is outside the vocabulary (0 to {self.vocab_size - 1})")
        piece = self._display()[token_id]
        if piece is None:
            raise IndexError(f"token id {token_id} is a gap in the vocabulary of {self.folder}")
        return piece

    def raw_piece(self, token_id: int) -> str:
        """The entry exactly as the Hugging Face vocabulary writes it (``Ġthe``, ``##ing``)."""
        if self.base_vocab_size <= token_id < self.vocab_size:
            return self.extra_tokens[token_id - self.base_vocab_size]
        piece = self.backend.id_to_token(token_id) if 0 <= token_id < self.base_vocab_size else None
        if piece is None:
            raise IndexError(f"token id {token_id} is outside the vocabulary (0 to {self.vocab_size - 1})")
        return piece

    def piece_to_id(self, piece: str) -> int:
        """The id of a piece, shown (``▁the``) or raw (``Ġthe``); the unknown id if absent."""
        if self._ids_by_shown is None:
            shown = self._display()
            self._ids_by_shown = {}
            for i in range(len(shown) - 1, -1, -1):  # the lowest id wins when two entries show alike
                if shown[i] is not None:
                    self._ids_by_shown[shown[i]] = i  # type: ignore[index]
        found = self._ids_by_shown.get(piece, self.backend.token_to_id(piece))
        if found is not None:
            return found
        if piece in self.extra_tokens:
            return self.base_vocab_size + self.extra_tokens.index(piece)
        return self.unk_id

    def pieces(self, text: str) -> list[str]:
        """The pieces ``text`` is cut into, for the token preview (shown as :meth:`id_to_piece` shows them)."""
        shown = self._display()
        return [shown[i] or "" for i in self.encode(text)]

    def _display(self) -> list[str | None]:
        """Display pieces of every library id (None for a gap), computed once."""
        if self._shown is None:
            added = {t.content for t in self.backend.get_added_tokens_decoder().values()}
            raw = [self.backend.id_to_token(i) for i in range(self.base_vocab_size)]
            self._shown = [p if p is None or p in added else _show(p, self._style) for p in raw]
        return self._shown

    def vocabulary(self) -> list[tuple[int, str, float]]:
        """(id, piece, score) for every entry; BPE and WordPiece have no scores, so all are 0."""
        entries = []
        for i in range(self.vocab_size):
            try:
                entries.append((i, self.id_to_piece(i), 0.0))
            except IndexError:  # a gap in the library's ids
                entries.append((i, "", 0.0))
        return entries

    # ---------------------------------------------------------------------------------------- saving

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write ``tokenizer.json`` and ``tokenizer_roles.json`` into ``folder`` (atomically, file by file)."""
        folder = Path(folder)
        write_text(folder / HF_TOKENIZER_FILE, self.backend.to_str(pretty=True))
        write_json(folder / ROLES_FILE, {"format_version": ROLES_VERSION, "special_ids": self.roles(),
                                         "extra_tokens": self.extra_tokens, "base_vocab_size": self.base_vocab_size,
                                         "special_tokens": {r: self.raw_piece(i) for r, i in self.roles().items()
                                                            if i >= 0}})

    def hf_backend_with_added(self) -> Any:
        """A copy of the backend with the added ids registered as special tokens (for a Hugging Face export)."""
        from tokenizers import AddedToken, Tokenizer

        backend = Tokenizer.from_str(self.backend.to_str())
        backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in self.extra_tokens])
        for n, token in enumerate(self.extra_tokens):
            if backend.token_to_id(token) != self.base_vocab_size + n:
                raise StudioError(f"The added token {token!r} would get another id in the exported tokenizer; "
                                  "the vocabulary has gaps the tokenizers library fills differently.")
        return backend


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: the printable character that stands for each byte → the byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]  # these stand as chr(256), chr(257), ...
    table = {chr(b): b for b in printable}
    table.update({chr(256 + n): b for n, b in enumerate(others)})
    return table


_BYTES = _byte_decoder()


def _uses(part: Any, kind: str) -> bool:
    """Whether a tokenizer.json component (or a Sequence of them) is of ``kind``."""
    if not isinstance(part, dict):
        return False
    members = part.get("pretokenizers") or part.get("decoders") or []
    return part.get("type") == kind or any(_uses(m, kind) for m in members)


def _display_style(spec: dict[str, Any]) -> str:
    """How pieces are shown: "bytes" (byte-level BPE), "wordpiece" (``##`` suffixes) or "raw"."""
    if _uses(spec.get("pre_tokenizer"), "ByteLevel") or _uses(spec.get("decoder"), "ByteLevel"):
        return "bytes"
    return "wordpiece" if spec["model"].get("type") == "WordPiece" else "raw"


def _show(piece: str, style: str) -> str:
    """A vocabulary entry in the app's SentencePiece convention: ``▁`` for a space, ``<0xNN>`` for a lone byte.

    The Playground and the vocabulary table read pieces this way; :meth:`HFTokenizer.raw_piece` keeps the original.
    """
    if style == "wordpiece":
        return piece[2:] if piece.startswith("##") else WORD_START + piece
    if style != "bytes":
        return piece
    try:
        data = bytes(_BYTES[c] for c in piece)
    except KeyError:
        return piece
    try:
        return data.decode("utf-8").replace(" ", WORD_START)
    except UnicodeDecodeError:  # part of a multi-byte character
        return "".join(f"<0x{b:02X}>" for b in data)


def _is_sentencepiece(folder: Path) -> bool:
    from gpt_studio.engine.tokenizer import META_FILE, MODEL_FILE

    meta = folder / META_FILE
    return (folder / MODEL_FILE).is_file() and (not meta.is_file() or not is_hf_tokenizer_json(meta))


def _has_hf(folder: Path) -> bool:
    return ((folder / HF_TOKENIZER_FILE).is_file() and is_hf_tokenizer_json(folder / HF_TOKENIZER_FILE)) \
        or all((folder / n).is_file() for n in BPE_FILES) or (folder / WORDPIECE_FILE).is_file()


def load_tokenizer(folder: str | os.PathLike[str]) -> Any:
    """The tokenizer kept in ``folder`` (or its ``tokenizer/`` subfolder): SentencePiece or Hugging Face.

    Chosen by the files present: a ``tokenizers`` ``tokenizer.json``, ``vocab.json`` + ``merges.txt`` or
    ``vocab.txt`` give an :class:`HFTokenizer`; ``tokenizer.model`` (with GPT Studio's ``tokenizer.json``, or
    alone as in a fine-tuned model folder) gives the SentencePiece :class:`~gpt_studio.engine.tokenizer.Tokenizer`.
    """
    from gpt_studio.engine.tokenizer import META_FILE, MODEL_FILE, Tokenizer

    root = Path(folder)
    for candidate in (root, root / "tokenizer"):
        if _has_hf(candidate):
            return HFTokenizer(candidate)
        if _is_sentencepiece(candidate):
            if (candidate / META_FILE).is_file():
                return Tokenizer(candidate)
            from gpt_studio.engine.loading import _ModelFileTokenizer  # a bare tokenizer.model copy

            return _ModelFileTokenizer(candidate / MODEL_FILE)
    raise StudioError(f"No tokenizer in {root}: expected GPT Studio's tokenizer.model + tokenizer.json, or a Hugging "
                      "Face tokenizer.json, vocab.json + merges.txt, or vocab.txt.")
