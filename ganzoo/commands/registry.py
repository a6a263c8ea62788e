"""`ganzoo list`, `ganzoo info` and `ganzoo plugins`: what the installed plugins provide."""

from __future__ import annotations

import dataclasses
import os

import click
from rich.text import Text

from ganzoo.console import Column, console, print_json, print_table, warn
from ganzoo.errors import UsageError
from ganzoo.registry import LOAD_ENV, PluginInfo, Zoo, zoo
from ganzoo.spec import check_model_outputs


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


def _package(info: PluginInfo) -> str:
    return f"{info.distribution or '?'} {info.version or ''}".strip()


def _spec_row(spec, plugin) -> dict:
    """What `list` and `info` show of every model, the same in tables and JSON."""
    return {
        "name": spec.name,
        "aliases": list(spec.aliases),
        "plugin": plugin.name,
        "distribution": plugin.distribution,
        "version": plugin.version,
        "summary": spec.summary,
        "paper": spec.paper,
        "image_shapes": [_shape_text(s) for s in spec.image_shapes],
    }


def model_rows() -> list[dict]:
    z = zoo()
    rows = []
    for name, spec in z.models:
        plugin = z.plugins[z.models.plugin_of(name)]
        rows.append(_spec_row(spec, plugin))
    return rows


def why_no_models(z: Zoo) -> str:
    if os.environ.get(LOAD_ENV) is not None and not os.environ[LOAD_ENV].strip():
        installed = ",".join(sorted(z.skipped)) or "dcgan"
        return (
            f"no models are registered: {LOAD_ENV} is set and empty, so no plugin was loaded. "
            f"Unset it to load every installed plugin, or name the ones to load, e.g. {LOAD_ENV}={installed}."
        )
    if z.skipped:
        why = "; ".join(f"{name}: {info.skipped}" for name, info in sorted(z.skipped.items()))
        return f"no models are registered: installed plugins were not loaded ({why})."
    if z.broken():
        return "no models are registered: every plugin that provides models is broken (see `ganzoo plugins`)."
    return "no models are registered: no plugin providing models is installed (`pip install ganzoo` has five)."


def warn_about_plugins(z: Zoo) -> None:
    for message in z.switch_warnings:
        warn(message)
    for info in z.broken():
        warn(f"plugin {info.name!r} is unavailable: {info.error} (see `ganzoo plugins`).")


WIDE = click.option("--wide", is_flag=True, help="Show every column (the table may exceed 80 columns).")


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the models as JSON.")
@WIDE
def list_models(as_json: bool, wide: bool) -> None:
    """List the registered models and the plugins that provide them."""
    rows = model_rows()
    if as_json:
        print_json(rows)
    elif rows:
        print_table(
            None,
            [Column("model", wrap=False), "aliases", Column("plugin", wrap=False), "package", "summary"],
            [
                (r["name"], ", ".join(r["aliases"]), r["plugin"], f"{r['distribution']} {r['version'] or ''}", r["summary"])
                for r in rows
            ],
            wide=wide,
        )
    if not rows:
        warn(why_no_models(zoo()))
    warn_about_plugins(zoo())


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


INFO_CLASSES = 10  # classes a conditional model is built with for `ganzoo info`


@click.command("info")
@click.argument("model")
@click.option("--image-shape", default=None, help="CxHxW to build for (default: the model's first shape).")
@click.option("--json", "as_json", is_flag=True, help="Print the spec as JSON.")
def info(model: str, image_shape: str | None, as_json: bool) -> None:
    """Show a model's spec, its default hyperparameters and the parameter counts of G and D."""
    z = zoo()
    spec = z.models.get(model)
    plugin = z.plugins[z.models.plugin_of(spec.name)]
    shape = parse_image_shape(image_shape) if image_shape else spec.default_image_shape
    # A conditional model takes its classes from the dataset; its parameters are counted for 10 (MNIST, CIFAR-10).
    classes = (spec.defaults.num_classes or INFO_CLASSES) if spec.conditional else 0
    G, D = spec.build(shape, spec.defaults.replace(num_classes=classes))  # a plugin's failure is a PluginError
    check_model_outputs(spec, G, D)  # so that a model `info` shows is one that can train
    data = {
        **_spec_row(spec, plugin),
        "image_shape": _shape_text(shape),
        "defaults": dataclasses.asdict(spec.defaults),
        "generator_parameters": count_parameters(G),
        "discriminator_parameters": count_parameters(D),
        "conditional": spec.conditional,
        "auxiliary_classifier": spec.auxiliary_classifier,
    }
    if as_json:
        print_json(data)
        return
    click.echo(f"{spec.name}  ({plugin.name}, {_package(plugin)})  {spec.summary}")
    click.echo(f"paper:        {spec.paper}")
    if spec.aliases:
        click.echo(f"aliases:      {', '.join(spec.aliases)}")
    click.echo(f"image shapes: {', '.join(data['image_shapes'])}")
    click.echo(
        f"parameters at {data['image_shape']}: G {data['generator_parameters']:,}, "
        f"D {data['discriminator_parameters']:,}" + (f" (for {classes} classes)" if spec.conditional else "")
    )
    if spec.conditional:
        extra = ", auxiliary classifier in D" if spec.auxiliary_classifier else ""
        click.echo(f"conditional:  yes, on the dataset's class labels{extra}")
    print_table("defaults", ["hyperparameter", "value"], data["defaults"].items())


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as JSON.")
@WIDE
def plugins(as_json: bool, wide: bool) -> None:
    """List plugins: package, version, hooks, what each registered, and why any is broken or skipped."""
    z = zoo()
    infos = [*z.plugins.values(), *(z.skipped[name] for name in sorted(z.skipped))]
    if as_json:
        print_json([info_.as_dict() for info_ in infos])
    else:
        rows, reasons = [], []
        for info_ in infos:
            registered = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info_.registered.items())
            if info_.error:
                status = Text("BROKEN", style="red")
                reasons.append(f"{info_.name}: broken: {info_.error}")
            elif info_.skipped:
                status = Text("skipped")
                reasons.append(f"{info_.name}: skipped: {info_.skipped}")
            else:
                status = Text("ok")
            rows.append((info_.name, _package(info_), ", ".join(info_.hooks), registered, status))
        columns = [Column("plugin", wrap=False), "package", Column("hooks", wide=True), "registered",
                   Column("status", wrap=False)]
        print_table(None, columns, rows, wide=wide)
        for reason in reasons:  # below the table, where a long message has the whole width
            console.print(Text(reason), soft_wrap=not console.is_terminal)  # piped: one line each
    for message in z.switch_warnings:
        warn(message)
