"""The model loop: predictions in, metrics against a version's split and the human bound, slices,
worst samples and label-issue ranking. Metrics are pure functions over internal targets."""
