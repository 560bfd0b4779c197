"""Sphinx configuration of the fer_sklearn documentation.

Build (with the gallery executed and warnings as errors)::

    bash scripts/docs.sh          # set up .venv, install the docs extra, build
    sphinx-build -W --keep-going -b html docs docs/_build/html

Nothing here reaches the network: intersphinx is off and the examples use the
built-in synthetic faces unless ``FER2013_PATH`` points at a FER2013 CSV.
"""

import os
import re
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document the working tree, installed or not

import fer_sklearn  # noqa: E402

# -- Project ----------------------------------------------------------------
project = "fer_sklearn"
author = "the fer_sklearn developers"
copyright = "the fer_sklearn developers, BSD-3-Clause"
version = release = fer_sklearn.__version__

# -- General ----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints",
                    # Gallery by-products that are not pages of their own.
                    "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.codeobj.json", "auto_examples/*.pickle"]
root_doc = "index"
default_role = "literal"
nitpicky = False
# No network: every cross-reference resolves inside this site or is plain text.
intersphinx_mapping = {}

# -- autodoc / autosummary ---------------------------------------------------
# Only the public API gets pages: api.rst lists every name of the public
# modules' __all__ (checked below), and the stubs land in gen_modules/.
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
autodoc_member_order = "bysource"

# -- numpydoc -----------------------------------------------------------------
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Validation of the public API's docstrings: the structural checks -- every
# parameter documented, no unknown ones (which is also how a section header
# swallowed into Parameters shows up), colons spaced, sections known and in
# order. The library's own style (named returns such as ``self : object``,
# parameters documented in groups) is not flagged. Only documented objects are
# validated, and only fer_sklearn's own members are documented (see
# _skip_foreign_member below); anything private is excluded outright.
numpydoc_validation_checks = {"PR01", "PR02", "PR07", "PR10", "GL06", "GL07"}
numpydoc_validation_exclude = {r"(^|\.)_"}

# -- sphinx-gallery -----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("fer_sklearn",),
    "reference_url": {"fer_sklearn": None},
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "matplotlib_animations": False,
    "plot_gallery": "True",
    # Pages show what an example prints, not the reprs of the objects its
    # cells end with ("<FilterDisplay object at 0x7f...>").
    "capture_repr": (),
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# Examples and doctests print numbers, not progress bars or skorch warnings.
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings("ignore", category=DeprecationWarning, module="skorch")
warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")

# -- HTML -------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_prev_next": False,
        "secondary_sidebar_items": ["page-toc"],
    }
except ImportError:  # pragma: no cover - the docs extra installs it
    html_theme = "alabaster"
    html_theme_options = {}
html_title = f"fer_sklearn {release}"
html_static_path = []
html_show_sourcelink = False


# -- The public API is documented, all of it and only it ---------------------
PUBLIC_MODULES = ("fer_sklearn", "fer_sklearn.datasets", "fer_sklearn.callbacks",
                  "fer_sklearn.interpret", "fer_sklearn.faces", "fer_sklearn.pretrained",
                  "fer_sklearn.video", "fer_sklearn.calibration", "fer_sklearn.exceptions")


def _check_api_coverage(app):
    """Warn (an error under -W) when a public name is missing from api.rst."""
    import importlib

    from sphinx.util import logging

    logger = logging.getLogger("fer_sklearn.api")
    listed, current = set(), None
    for line in (DOCS / "api.rst").read_text().splitlines():
        match = re.match(r"\s*\.\. currentmodule:: ([\w.]+)", line)
        if match:
            current = match.group(1)
        elif current and re.fullmatch(r" {3}[\w.]+\s*", line):
            listed.add(f"{current}.{line.strip()}")
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            if name.startswith("__"):
                continue  # __version__ is documented as text
            # A name re-exported from another public module is documented there.
            homes = [f"{other}.{name}" for other in PUBLIC_MODULES
                     if getattr(importlib.import_module(other), name, None)
                     is getattr(module, name)]
            if not listed.intersection(homes):
                logger.warning(f"public name {module_name}.{name} is not in docs/api.rst")


def _skip_foreign_member(app, what, name, obj, skip, options):
    """Document only what fer_sklearn defines.

    Members inherited from scikit-learn (``get_params``, ``score``,
    ``set_*_request`` ...) and skorch (the ``on_*`` hooks) are documented
    there, and their docstrings cross-reference pages of those projects that
    do not exist here.
    """
    if what != "class":
        return None
    return True if _is_foreign(obj) else None


def _is_foreign(member):
    """Whether a class member (function, method, property) comes from another project."""
    for attribute in ("__func__", "fget"):
        member = getattr(member, attribute, member)
    # Builtins (an exception's with_traceback) have no module: foreign too.
    module = getattr(member, "__module__", None) or ""
    return not module.startswith("fer_sklearn")


def _own_methods():
    """The public methods fer_sklearn defines, per public class: its page's summary table."""
    import importlib
    import inspect

    table = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            cls = getattr(module, name)
            if inspect.isclass(cls):
                table[f"{module_name}.{name}"] = [
                    member for member, value in inspect.getmembers(cls)
                    if not member.startswith("_") and inspect.isroutine(value)
                    and not _is_foreign(value)]
    return table


autosummary_context = {"own_methods": _own_methods()}


def _constant_docstring(app, what, name, obj, options, lines):
    """A re-exported constant's own docstring, not its type's.

    autodoc reads a constant's docstring (the string literal below its
    assignment) from the source of the module it is documented in; for a
    name re-exported by a package's ``__init__`` that is the wrong file, and
    the page shows the docstring of ``tuple`` ("Built-in immutable
    sequence..."). Look it up in the package's private modules instead.
    """
    if what != "data":
        return
    import importlib
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    package_name, _, attribute = name.rpartition(".")
    package = importlib.import_module(package_name)
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        module_name = f"{package_name}.{info.name}"
        docs = ModuleAnalyzer.for_module(module_name).find_attr_docs().get(("", attribute))
        if docs and getattr(importlib.import_module(module_name), attribute, None) is obj:
            lines[:] = list(docs)
            return


def setup(app):
    app.connect("builder-inited", _check_api_coverage)
    app.connect("autodoc-skip-member", _skip_foreign_member)
    app.connect("autodoc-process-docstring", _constant_docstring)
