"""What every layer shares: the settings, the error tree, and the vocabulary (requests, kinds)."""
