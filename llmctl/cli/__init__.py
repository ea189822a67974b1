"""The command-line interface: thin wrappers around the library."""
