"""The study report as one document model, rendered to self-contained HTML and to Markdown.

The study describes its report as :class:`Section` objects holding
paragraphs, tables and figures. Every number shown is a :class:`Num`: a
reference into the results dictionary that is also written as
``results.json``, so the report cannot show a number the JSON file lacks, and
both formats show the same numbers. In the HTML each number is a
``<span class="num" data-key="...">``, which lets a reader (or a test) trace
it back to its JSON key.
"""

import base64
import html
import math
import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Num:
    """A number of the results, shown formatted.

    Parameters
    ----------
    key : str
        Dotted path into the results (``"models.cnn.n_params"``); list items
        are addressed by their index.
    fmt : str, default=".3g"
        Format specification, as for :func:`format`.
    magnitude : bool, default=False
        Show the absolute value (the sentence carries the sign in words).
    """

    key: str
    fmt: str = ".3g"
    magnitude: bool = False


@dataclass
class Table:
    """A table; each cell is a string, a :class:`Num` or a tuple of both."""

    header: list
    rows: list


@dataclass
class Figure:
    """A PNG file of the output folder and its caption."""

    file: str
    caption: str


@dataclass
class Section:
    """A titled part of the report: paragraphs (tuples of str and Num), tables, figures."""

    title: str
    blocks: list = field(default_factory=list)


def lookup(results, key):
    """The value at a dotted ``key`` of the nested ``results``."""
    value = results
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def format_num(num, results):
    """``num``'s value as text; ``"n/a"`` for a missing (None or NaN) value."""
    value = lookup(results, num.key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(abs(value) if num.magnitude else value, num.fmt)


def _parts(cell):
    return cell if isinstance(cell, tuple) else (cell,)


# ------------------------------------------------------------------ Markdown
def _md_text(parts, results):
    return "".join(format_num(p, results) if isinstance(p, Num) else p for p in _parts(parts))


def _anchor(title):
    """A section's link target, as GitHub makes it from a Markdown heading."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return kept.replace(" ", "-")


def render_markdown(title, sections, results):
    """The report as Markdown; figures are linked as the PNG files beside it.

    Parameters
    ----------
    title : str
    sections : list of Section
    results : dict
        The values the :class:`Num` references point to.

    Returns
    -------
    text : str
    """
    lines = [f"# {title}", "", "Contents:", ""]
    lines += [f"- [{section.title}](#{_anchor(section.title)})" for section in sections]
    lines.append("")
    for section in sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                def row(cells):
                    text = (_md_text(c, results).replace("|", "\\|") for c in cells)
                    return "| " + " | ".join(text) + " |"
                lines += [row(block.header), "|" + "---|" * len(block.header)]
                lines += [row(cells) for cells in block.rows]
            elif isinstance(block, Figure):
                lines.append(f"![{block.caption}]({block.file})")
                lines += ["", f"*{block.caption}*"]
            else:
                lines.append(_md_text(block, results))
            lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------- HTML
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.5; }
h1 { border-bottom: 2px solid #444; padding-bottom: .3rem; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
.table { overflow-x: auto; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
th { background: #f0f0f0; }
td:has(> .num:only-child) { text-align: right; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9rem; color: #555; }
.num { font-variant-numeric: tabular-nums; }
nav ul { padding-left: 1.2rem; }
@media (max-width: 40rem) {
  body { margin: 1rem auto; } h1 { font-size: 1.5rem; }
  table { font-size: .8rem; } th, td { padding: .2rem .4rem; } td { white-space: nowrap; }
}
"""


def _html_text(parts, results):
    out = []
    for part in _parts(parts):
        if isinstance(part, Num):
            magnitude = ' data-magnitude="1"' if part.magnitude else ""
            out.append(f'<span class="num" data-key="{html.escape(part.key)}"{magnitude}>'
                       f"{html.escape(format_num(part, results))}</span>")
        else:
            out.append(html.escape(part))
    return "".join(out)


def render_html(title, sections, results, folder):
    """The report as one self-contained HTML page: inline CSS, figures as data URIs.

    Parameters
    ----------
    title : str
    sections : list of Section
    results : dict
        The values the :class:`Num` references point to.
    folder : str
        Where the figures' PNG files are; they are embedded, not linked.

    Returns
    -------
    text : str
    """
    body = [f"<h1>{html.escape(title)}</h1>", "<nav><strong>Contents</strong><ul>"]
    body += [f'<li><a href="#{_anchor(section.title)}">{html.escape(section.title)}</a></li>'
             for section in sections]
    body.append("</ul></nav>")
    for section in sections:
        body.append(f'<h2 id="{_anchor(section.title)}">{html.escape(section.title)}</h2>')
        for block in section.blocks:
            if isinstance(block, Table):
                head = "".join(f"<th>{_html_text(c, results)}</th>" for c in block.header)
                rows = "".join(
                    "<tr>" + "".join(f"<td>{_html_text(c, results)}</td>" for c in cells) + "</tr>"
                    for cells in block.rows)
                # A wrapper that scrolls sideways keeps wide tables off a phone's margin.
                body.append(f'<div class="table"><table><thead><tr>{head}</tr></thead>'
                            f"<tbody>{rows}</tbody></table></div>")
            elif isinstance(block, Figure):
                with open(os.path.join(folder, block.file), "rb") as file:
                    data = base64.b64encode(file.read()).decode("ascii")
                caption = html.escape(block.caption)
                body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
                            f"<figcaption>{caption}</figcaption></figure>")
            else:
                body.append(f"<p>{_html_text(block, results)}</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
