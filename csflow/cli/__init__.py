"""The ``csflow`` command."""
import typer

app = typer.Typer(no_args_is_help=True, help="Rule-driven, auditable complaint-handling workflows.")


def main() -> None:
    app()
