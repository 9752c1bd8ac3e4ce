"""Evaluation: scores, thresholds, metrics per scenario and attack, efficiency, figures, summary."""
