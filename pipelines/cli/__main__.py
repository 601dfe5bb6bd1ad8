"""`python -m pipelines.cli`: the same as the `kindred` command."""

from pipelines.cli import main

main()
