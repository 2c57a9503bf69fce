"""Two small changes to how the website is built (loaded from _config.yml, sphinx.local_extensions).

1. No live widgets on the static site. In a running notebook the tqdm.auto progress bars and the
   ipywidgets explorers are live widgets; on a static page they would need the widget manager's
   JavaScript from a CDN (so offline they vanish, and online they are frozen). This post-transform
   removes every output whose richest form is a widget view, before myst-nb picks a mime type.
   An explorer therefore also draws its default figure as an ordinary output with a numbered
   caption (the chapters' convention), and that figure is what the site shows. The saved widget
   state is then left off the page, and with `nb_ipywidgets_js: {}` the pages load no widget
   script at all.
2. Author-year labels in the bibliography ("Hochreiter and Schmidhuber, 1997"), matching the
   author-year citations in the text, instead of pybtex's alpha labels ("[HS97]").
"""
from collections import Counter

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.transforms.post_transforms import SphinxPostTransform

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class RemoveWidgetViews(SphinxPostTransform):
    """Remove widget outputs (progress bars, explorers) from the static page."""

    default_priority = 3  # before myst-nb's mime-type selection (priority 4)

    def run(self, **kwargs):
        for bundle in list(self.document.findall(nodes.container)):
            if bundle.get("nb_element") != "mime_bundle":
                continue
            if any(is_widget_view(child.get("mime_type")) for child in bundle.children):
                bundle.parent.remove(bundle)


def is_widget_view(mime_type):
    """Whether an output of this mime type is a live widget (it needs the widget scripts)."""
    return mime_type == WIDGET_VIEW


def drop_widget_state(app, pagename, *args):
    """Leave out the saved widget state (inert without the widget scripts, and large)."""
    metadata = getattr(app.env, "nb_metadata", {}).get(pagename, {})
    metadata.get("js_files", {}).pop("ipywidgets_state", None)


def _surname(person):
    return str(Text.from_latex(" ".join(person.prelast_names + person.last_names)))


class AuthorYearLabelStyle(BaseLabelStyle):
    """'Cho et al., 2014'; two authors joined by 'and'; a, b, ... where two labels collide."""

    def format_labels(self, sorted_entries):
        labels = []
        for entry in sorted_entries:
            persons = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [_surname(p) for p in persons]
            if not names:
                who = entry.fields.get("title", entry.key)
            elif len(names) == 1:
                who = names[0]
            elif len(names) == 2:
                who = f"{names[0]} and {names[1]}"
            else:
                who = f"{names[0]} et al."
            labels.append(f"{who}, {entry.fields.get('year', 'n.d.')}")
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    app.add_post_transform(RemoveWidgetViews)
    app.connect("html-page-context", drop_widget_state, priority=400)  # before myst-nb's (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
