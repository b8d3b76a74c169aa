"""Groups of `tempcheck` commands, each in a module named for what it works on."""
