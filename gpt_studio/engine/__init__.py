"""The shared engine: data path, models, trainer. Pure Python + torch/numpy/sentencepiece; never Qt.

Submodules are imported on demand so that the light verbs (init, import) do not pay torch's import time.
"""
