"""Reserved for the trace integration (see PORT.md §2); nothing here yet."""
