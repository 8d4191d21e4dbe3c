"""Reserved for the middleware integration (see PORT.md §2); nothing here yet."""
