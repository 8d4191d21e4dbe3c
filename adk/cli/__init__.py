"""Reserved for the cli integration (see PORT.md §2); nothing here yet."""
