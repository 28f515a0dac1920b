"""GPT Studio: a desktop studio for pretraining, fine-tuning and probing small GPT and BERT models."""

__version__ = "0.1.0"
