"""Reproduction: run sets of configs once each (`runs`), baselines, the RESULTS.md report."""
