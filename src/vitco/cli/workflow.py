"""`vitco workflow list | show | validate`: the templates runs are made of."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vitco.cli.output import console, emit_json, fail, known_errors, load_settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Workflow templates: list, show (Mermaid / PNG), validate.")
    app.add_typer(sub, name="workflow")

    @sub.command("list")
    def list_(as_json: JsonOpt = False) -> None:
        """The templates vitco knows (yours in <data dir>/workflows first, then built-in)."""
        from vitco.workflow.exceptions import TemplateInvalid
        from vitco.workflow.template import load, template_files

        settings = load_settings(as_json)
        rows = []
        for name, path in template_files(settings.home).items():
            try:
                template, _, _ = load(str(path), settings.home)
                description = template.description
            except TemplateInvalid as exc:
                description = f"INVALID: {exc.problems[0]}"
            rows.append({"name": name, "path": str(path), "description": description})
        if as_json:
            emit_json({"workflows": rows})
            return
        table = Table(title="workflow templates", title_justify="left")
        table.add_column("name", no_wrap=True, overflow="fold")
        table.add_column("description")
        for r in rows:
            table.add_row(r["name"], r["description"])
        console.print(table)

    @sub.command()
    def show(
        name: Annotated[str, typer.Argument(help="Template name or YAML file.")],
        png: Annotated[
            Path | None, typer.Option("--png", help="Also write a PNG picture to this file.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Print a template as a Mermaid flowchart (paste it into any Mermaid viewer)."""
        from vitco.workflow.render import mermaid, png_renderer, render_png
        from vitco.workflow.template import load

        settings = load_settings(as_json)
        with known_errors(as_json):
            template, _, file = load(name, settings.home)
        text = mermaid(template)
        written = None
        if png is not None:
            if png_renderer() is None:
                fail(
                    "no PNG renderer: install Graphviz (apt-get install graphviz) for --png; "
                    "the Mermaid text works without it",
                    as_json=as_json,
                )
            written = str(render_png(template, png))
        if as_json:
            emit_json({"name": template.name, "file": file, "mermaid": text, "png": written})
            return
        console.print(text, highlight=False, markup=False)
        if written:
            console.print(f"picture written to {written}", highlight=False)

    @sub.command("validate")
    def validate_(
        file: Annotated[Path, typer.Argument(help="A workflow template YAML file.")],
        as_json: JsonOpt = False,
    ) -> None:
        """Check a template: every problem with its file and line; exit 1 if there is any."""
        from vitco.workflow.exceptions import TemplateInvalid
        from vitco.workflow.template import Problem, load, parse
        from vitco.workflow.validate import validate

        settings = load_settings(as_json)
        try:
            if not file.is_file():
                raise TemplateInvalid([Problem(str(file), 0, "no such file")])
            template, lines = parse(file.read_text(encoding="utf-8"), str(file))
            if template.extends:
                template, lines, _ = load(str(file), settings.home)
            problems = validate(template, lines, str(file))
        except TemplateInvalid as exc:
            problems = exc.problems
        if as_json:
            emit_json(
                {
                    "file": str(file),
                    "valid": not problems,
                    "problems": [
                        {"file": p.file, "line": p.line, "message": p.message} for p in problems
                    ],
                }
            )
        else:
            for p in problems:
                console.print(f"[red]{p}[/]", highlight=False)
            if not problems:
                console.print(f"{file}: valid", highlight=False)
        if problems:
            raise typer.Exit(1)
