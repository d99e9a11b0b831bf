"""Synthetic learning world: taxonomy, catalogue, learners and their events, deterministic by seed."""
