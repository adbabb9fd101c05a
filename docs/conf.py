"""Sphinx configuration of the course site: `make book` builds it into docs/_build/html.

The notebooks are rendered from their stored outputs (nothing is executed). The API page is
generated from `minidl.__all__`, one section per notebook in course order: a name belongs to
the notebooks its docstring names ("Derived in notebooks/01_linear.ipynb"), or, when it
names none, to those of its module's docstring. Every such notebook path in a docstring
becomes a link to the notebook's page, and each notebook page links back to its names.
"""

from __future__ import annotations

import inspect
import json
import re
import types
from pathlib import Path
from typing import Any

from docutils import nodes
from myst_parser.slugs import github_slugify
from sphinx import addnodes
from sphinx.application import Sphinx

import minidl

project = "minidl"
author = "the minidl authors"
release = minidl.__version__
html_title = "minidl: a neural-network framework by hand"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the docstrings' Google-style sections: Args, Returns, Raises
    "sphinx-mathjax-offline",  # MathJax served from _static/mathjax: no CDN
]
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
nitpicky = True
nitpick_ignore_regex = [
    # The site links no external documentation (it must read offline).
    ("py:.*", r"(torch|Tensor|Generator|collections|typing|os|pathlib)(\..*)?"),
    # Type variables in signatures (Module.fresh_copy returns the type it is called on).
    ("py:class", r"minidl\.module\.[A-Z]"),
    # Private names, and a return type that its function's docstring describes.
    ("py:class", r"minidl\.(\w+\.)*_\w+"),
    ("py:class", r"minidl\.gradcheck\.GradcheckResult"),
]
# Docstrings are plain text with formulas: `x` is code, |x| is an absolute value.
default_role = "literal"

# Notebooks: the stored outputs are the content; never execute.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_dmath_double_inline = True  # $$...$$ inside a paragraph, as Jupyter shows it
myst_heading_anchors = 3
myst_heading_slug_func = "github"  # the anchors that links written for GitHub expect

napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"

html_theme = "sphinx_book_theme"
html_theme_options = {
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "navbar_persistent": [],  # the sidebar has the search field; no second one above it
}
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_context = {"default_mode": "light"}  # the figures have white backgrounds

NOTEBOOKS = Path(__file__).parent / "notebooks"
NOTEBOOK = re.compile(r"(?<![\w/`<])notebooks/(\d\d_\w+)\.ipynb")


def notebooks_of(obj: Any) -> list[str]:
    """Docnames of the notebooks obj's docstring names, else those its module's names."""
    found = NOTEBOOK.findall(inspect.getdoc(obj) or "")
    if not found and not isinstance(obj, types.ModuleType):
        found = NOTEBOOK.findall(inspect.getdoc(inspect.getmodule(obj)) or "")
    return [f"notebooks/{stem}" for stem in dict.fromkeys(found)]


# A public name (minidl.X) -> the notebooks its docstring names, the deriving one first.
NAMED_IN = {f"minidl.{n}": notebooks_of(getattr(minidl, n)) for n in minidl.__all__}


def title_of(docname: str) -> str:
    """The notebook's title: its first level-1 heading."""
    path = NOTEBOOKS.parent / f"{docname}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"a docstring names {docname}.ipynb, which does not exist")
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            titles = re.findall(r"^# +(.+)$", "".join(cell["source"]), re.MULTILINE)
            if titles:
                return str(titles[0]).strip()
    return docname


def directive(name: str) -> str:
    obj = getattr(minidl, name.removeprefix("minidl."))
    if isinstance(obj, types.ModuleType):
        return f".. automodule:: {name}\n   :members:"
    if isinstance(obj, type):
        kind = "exception" if issubclass(obj, BaseException) else "class"
        return f".. auto{kind}:: {name}\n   :members:"
    return f".. autofunction:: {name}"


def api_page(app: Sphinx, docname: str, source: list[str]) -> None:
    """Append to api.md one section per notebook, in course order, with what it derives."""
    if docname != "api":
        return
    sections: dict[str, list[str]] = {}
    for name, notebooks in NAMED_IN.items():
        sections.setdefault(notebooks[0] if notebooks else "", []).append(name)
    for nb, names in sorted(sections.items(), key=lambda item: item[0] or "~"):
        title = f"{title_of(nb)}\n\nFrom {{doc}}`/{nb}`." if nb else "Other names"
        body = "\n\n".join(directive(n) for n in names)
        source[0] += f"\n## {title}\n\n```{{eval-rst}}\n{body}\n```\n"


def link_notebooks(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """A notebook path in a docstring becomes a link to its page; | is plain text."""
    for i, line in enumerate(lines):
        line = line.replace("|", r"\|")
        lines[i] = NOTEBOOK.sub(lambda m: f":doc:`{m[0]} </notebooks/{m[1]}>`", line)


def add_back_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Under a notebook's title: links to the API entries of the names that name it."""
    names = [name for name, notebooks in NAMED_IN.items() if docname in notebooks]
    if not names:
        return
    objects = app.env.get_domain("py").objects  # type: ignore[attr-defined]
    para = nodes.paragraph("", "")
    for i, name in enumerate(names):
        entry = objects[name]
        uri = app.builder.get_relative_uri(docname, entry.docname) + "#" + entry.node_id
        para += [nodes.Text(", ")] if i else []
        para += nodes.reference("", "", nodes.literal(name, name), internal=True, refuri=uri)
    box = nodes.admonition("", nodes.title("", "In the API reference"), para)
    box["classes"] += ["course-api-links", "tip"]
    section = next(iter(doctree.findall(nodes.section)))
    section.insert(1, box)


def fold_hidden_cells(app: Sphinx, doctree: nodes.document) -> None:
    """Cells that Jupyter shows folded ({"jupyter": {"source_hidden": true}}, as exercise
    answers are) start folded on the site too, behind a "show" toggle."""
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code" or cell.get("hide_mode"):
            continue
        folded = cell.get("cell_metadata", {}).get("jupyter", {})
        parts = [
            p
            for p, key in (("input", "source_hidden"), ("output", "outputs_hidden"))
            if folded.get(key)
        ]
        if parts:
            cell["hide_mode"] = "+".join(parts)
            cell["prompt_show"] = app.config.nb_code_prompt_show
            cell["prompt_hide"] = app.config.nb_code_prompt_hide


GUIDE = ("<!-- guide-start -->", "<!-- guide-end -->")
LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)")


def readme_links(app: Sphinx, path: Path, parent: str, content: list[str]) -> None:
    """Links of the README, read for the landing page (its course guide) and for project.md
    (the rest): an anchor points at the page that holds its heading, a notebook at its page;
    any other file of the repository is not on the site, so its link becomes plain text."""
    if path.name != "README.md":
        return
    text = content[0]
    start, end = (text.index(marker) for marker in GUIDE)
    headings = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)
    in_guide = {github_slugify(h) for h in headings.findall(text[start:end])}

    def fix(m: re.Match[str]) -> str:
        label, dest = m[1], m[2]
        if "://" in dest or dest.startswith("mailto:"):
            return m[0]
        if dest.startswith("#"):
            page = "index" if dest[1:] in in_guide else "project"
            return m[0] if page == parent else f"[{label}](/{page}.md{dest})"
        return m[0] if NOTEBOOK.fullmatch(dest.partition("#")[0]) else label

    content[0] = LINK.sub(fix, text)


def fix_notebook_refs(app: Sphinx, doctree: nodes.document) -> None:
    """docs/notebooks links to ../notebooks, and Sphinx resolves a linked path through the
    link: a link to a notebook then names its real path. Name the page instead."""
    real = f"{(Path(app.srcdir) / 'notebooks').resolve()}/"
    for ref in doctree.findall(addnodes.pending_xref):
        if ref.get("reftarget", "").startswith(real):
            ref["reftarget"] = "notebooks/" + ref["reftarget"].removeprefix(real)


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("doctree-read", fix_notebook_refs)
    app.connect("include-read", readme_links)
    app.connect("doctree-read", fold_hidden_cells)
    app.connect("source-read", api_page)
    app.connect("autodoc-process-docstring", link_notebooks)
    app.connect("doctree-resolved", add_back_links)
    return {"parallel_read_safe": True}
