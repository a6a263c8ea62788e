"""`ganzoo datasets`: every registered dataset and whether it is here; and the dataset options
(``--data-dir``, ``--image-size``, ``--channels``, ``--strict``, ``--no-download``) shared by every command
that reads data.

A command that takes a dataset uses both helpers::

    @click.command()
    @click.option("--dataset", default="mnist-10k")
    @dataset_options
    def train(dataset, **kwargs):
        data = load_dataset(dataset, options=options_from_cli(**kwargs))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ganzoo.console import Column, print_json, print_table
from ganzoo.datasets.base import DATA_DIR_ENV, Availability, DatasetOptions
from ganzoo.registry import zoo

F = TypeVar("F", bound=Callable[..., Any])

_DATASET_OPTIONS = (
    click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Look for dataset files here first (then ${DATA_DIR_ENV}, ~/.cache/ganzoo, /usr/share/datasets).",
    ),
    click.option(
        "--image-size",
        type=click.IntRange(4, 4096),
        default=None,
        help="folder:PATH datasets: the side of the square images are cropped and resized to (default 64; "
        "`ganzoo fid`/`metrics`: the images' own size, never resized unasked).",
    ),
    click.option(
        "--channels",
        type=click.Choice(["1", "3"]),
        default=None,
        help="folder:PATH datasets: 1 (grayscale) or 3 (RGB); default 1 if every image is grayscale, else 3.",
    ),
    click.option(
        "--strict", is_flag=True, help="folder:PATH datasets: an unreadable image is an error, not skipped."
    ),
    click.option(
        "--no-download", is_flag=True, help="Never download; fail if the files are not on this machine."
    ),
)


def dataset_options(command: F) -> F:
    """Click decorator adding the dataset options to ``command``; its function receives them as keyword
    arguments ``data_dir``, ``image_size``, ``channels``, ``strict`` and ``no_download``; pass them (or all
    its keyword arguments) to :func:`options_from_cli`."""
    for option in reversed(_DATASET_OPTIONS):
        command = option(command)
    return command


def options_from_cli(
    *,
    data_dir: Path | str | None = None,
    image_size: int | None = None,
    channels: int | str | None = None,
    strict: bool = False,
    no_download: bool = False,
    progress: bool = True,
    **other_options: Any,
) -> DatasetOptions:
    """The :class:`DatasetOptions` for the values :func:`dataset_options` parsed. Keyword arguments that are
    not dataset options are ignored, so a command may pass all of its own."""
    return DatasetOptions(
        data_dir=Path(data_dir).expanduser() if data_dir is not None else None,
        download=not no_download,
        image_size=image_size,
        channels=int(channels) if channels is not None else None,
        strict=strict,
        progress=progress,
    )


def _availability(source: Any, options: DatasetOptions) -> Availability:
    try:
        return source.availability(options)
    except Exception as exc:  # noqa: BLE001 - a third-party source must not break the listing
        return Availability("error", f"{type(exc).__name__}: {exc}")


def dataset_rows(options: DatasetOptions) -> list[dict[str, Any]]:
    registry = zoo().datasets
    rows = []
    for name, source in registry:
        availability = _availability(source, options)
        rows.append(
            {
                "name": name,
                "aliases": list(source.aliases),
                "plugin": registry.plugin_of(name),
                "summary": source.summary,
                "splits": list(source.splits),
                "status": availability.status,
                "location": availability.location,
                "size_bytes": availability.size_bytes,
                "license": source.license,
            }
        )
    return rows


STATUS_TEXT = {
    "embedded": "yes (embedded)",
    "local": "yes (local)",
    "download": "after a download",
    "unavailable": "no",
}


def _megabytes(size: int | None) -> str:
    return "" if size is None else f"{size / 1e6:.1f} MB"


@click.command("datasets")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Also look for dataset files here (searched before ${DATA_DIR_ENV} and the cache).",
)
@click.option(
    "--no-download", is_flag=True, help="Report datasets that would need a download as unavailable."
)
@click.option("--json", "as_json", is_flag=True, help="Print the datasets as JSON.")
@click.option("--wide", is_flag=True, help="Show every column (where each dataset is).")
def datasets(data_dir: Path | None, no_download: bool, as_json: bool, wide: bool) -> None:
    """List every dataset: whether it is available here, where it was found, its size and license."""
    rows = dataset_rows(options_from_cli(data_dir=data_dir, no_download=no_download))
    if as_json:
        print_json(rows)
        return
    print_table(
        None,
        ["dataset", "available", Column("where", wide=True), Column("size", wrap=False), "license"],
        [
            (
                ", ".join([row["name"], *row["aliases"]]),
                STATUS_TEXT.get(row["status"], row["status"]),
                row["location"],
                _megabytes(row["size_bytes"]),
                row["license"],
            )
            for row in rows
        ],
        wide=wide,
    )
    click.echo(
        "Name one split as NAME:SPLIT (e.g. mnist-10k:test). Your own images: folder:PATH. "
        f"Files you already have: --data-dir DIR or ${DATA_DIR_ENV}."
    )
