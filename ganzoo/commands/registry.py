"""`ganzoo list`, `ganzoo info` and `ganzoo plugins`: what the installed plugins provide."""

from __future__ import annotations

import dataclasses

import click

from ganzoo.console import print_json, print_table, warn
from ganzoo.errors import UsageError
from ganzoo.registry import LOAD_ENV, zoo


def _shape_text(shape) -> str:
    return "x".join(str(s) for s in shape)


def parse_image_shape(text: str) -> tuple[int, int, int]:
    try:
        parts = tuple(int(p) for p in text.lower().replace(",", "x").split("x"))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) <= 0:
        raise UsageError(f"--image-shape expects CxHxW with positive integers, e.g. 1x28x28; got {text!r}.")
    return parts  # type: ignore[return-value]


def model_rows() -> list[dict]:
    registry = zoo().models
    rows = []
    for name, spec in registry:
        rows.append(
            {
                "name": name,
                "aliases": list(spec.aliases),
                "plugin": registry.plugin_of(name),
                "distribution": zoo().plugins[registry.plugin_of(name)].distribution,
                "summary": spec.summary,
                "paper": spec.paper,
                "image_shapes": [_shape_text(s) for s in spec.image_shapes],
            }
        )
    return rows


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the models as JSON.")
def list_models(as_json: bool) -> None:
    """List the registered models and the plugins that provide them."""
    rows = model_rows()
    if as_json:
        print_json(rows)
        return
    if not rows:
        z = zoo()
        if z.skipped:
            why = "; ".join(f"{name}: {reason}" for name, reason in sorted(z.skipped.items()))
            warn(f"no models are registered: installed plugins were not loaded ({why}).")
        else:
            warn("no models are registered: no plugin providing models is installed.")
        if not any(p.error for p in z.plugins.values()) and LOAD_ENV in __import__("os").environ:
            warn(f"{LOAD_ENV} is set; unset it to load every installed plugin.")
    else:
        print_table(
            None,
            ["model", "aliases", "plugin", "summary"],
            [(r["name"], ", ".join(r["aliases"]), r["plugin"], r["summary"]) for r in rows],
        )
    for info in zoo().broken():
        warn(f"plugin {info.name!r} is unavailable: {info.error} (see `ganzoo plugins`).")


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


@click.command("info")
@click.argument("model")
@click.option("--image-shape", default=None, help="CxHxW to build for (default: the model's first shape).")
@click.option("--json", "as_json", is_flag=True, help="Print the spec as JSON.")
def info(model: str, image_shape: str | None, as_json: bool) -> None:
    """Show a model's spec, its default hyperparameters and the parameter counts of G and D."""
    registry = zoo().models
    spec = registry.get(model)
    shape = parse_image_shape(image_shape) if image_shape else spec.default_image_shape
    G, D = spec.build(shape, spec.defaults)
    data = {
        "name": spec.name,
        "aliases": list(spec.aliases),
        "plugin": registry.plugin_of(spec.name),
        "summary": spec.summary,
        "paper": spec.paper,
        "image_shapes": [_shape_text(s) for s in spec.image_shapes],
        "image_shape": _shape_text(shape),
        "defaults": dataclasses.asdict(spec.defaults),
        "generator_parameters": count_parameters(G),
        "discriminator_parameters": count_parameters(D),
    }
    if as_json:
        print_json(data)
        return
    click.echo(f"{spec.name}  ({data['plugin']})  {spec.summary}")
    click.echo(f"paper:        {spec.paper}")
    if spec.aliases:
        click.echo(f"aliases:      {', '.join(spec.aliases)}")
    click.echo(f"image shapes: {', '.join(data['image_shapes'])}")
    click.echo(
        f"parameters at {data['image_shape']}: G {data['generator_parameters']:,}, "
        f"D {data['discriminator_parameters']:,}"
    )
    print_table("defaults", ["hyperparameter", "value"], data["defaults"].items())


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as JSON.")
def plugins(as_json: bool) -> None:
    """List installed plugins: distribution, version, hooks, what each registered, and any error."""
    z = zoo()
    data = [info.as_dict() for info in z.plugins.values()]
    data += [{"name": name, "skipped": reason} for name, reason in sorted(z.skipped.items())]
    if as_json:
        print_json(data)
        return
    rows = []
    for info_ in z.plugins.values():
        registered = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info_.registered.items())
        status = f"[red]BROKEN[/]: {info_.error}" if info_.error else "ok"
        version = f"{info_.distribution or '?'} {info_.version or ''}".strip()
        rows.append((info_.name, version, ", ".join(info_.hooks), registered, status))
    for name, reason in sorted(z.skipped.items()):
        rows.append((name, "", "", "", f"skipped: {reason}"))
    print_table(None, ["plugin", "distribution", "hooks", "registered", "status"], rows)
COMMANDS = [list_models, info, plugins]
