"""Experiment configs, one module per paper setting."""
