"""Reserved for the testing integration (see PORT.md §2); nothing here yet."""
