"""Reserved for the batteries integration (see PORT.md §2); nothing here yet."""
