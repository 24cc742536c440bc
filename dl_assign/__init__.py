"""dl_assign: a verified, benchmarked reference implementation of classic deep-learning vision coursework."""

__version__ = "0.1.0"
