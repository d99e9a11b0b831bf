"""Precompute and publish recommendation tables and learning paths; serving export; nudges."""
