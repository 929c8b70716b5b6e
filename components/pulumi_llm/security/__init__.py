"""Per-cloud keys and secret stores shared by the methods."""
