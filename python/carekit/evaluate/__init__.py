"""Evaluation against ground truth: metrics, baselines, reports."""
