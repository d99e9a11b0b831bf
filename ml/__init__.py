"""Models, training, offline evaluation, the MLflow registry, ranking/blending and the agents."""
