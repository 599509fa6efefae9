"""What every layer shares: the settings and the error tree."""
