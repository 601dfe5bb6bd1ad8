"""One writer per demo source; each returns what it wrote and the ground-truth keys of its records."""
