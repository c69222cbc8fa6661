"""Report triage: a trainable text classifier (character n-grams + logistic regression), versioned models."""
