"""`python -m userman`: the same as the `userman` command."""

from userman.cli import main

main()
