"""Two small changes to how the website is built (loaded from _config.yml, sphinx.local_extensions).

1. No live widgets on the static site. In a running notebook the tqdm.auto progress bars and the
   ipywidgets explorers are live widgets; on a static page they would need the widget manager's
   JavaScript from a CDN (so offline they vanish, and online they are frozen). This post-transform
   replaces every output whose richest form is a widget view, before myst-nb picks a mime type, by
   what the widget's Output areas held when the notebook was executed (an explorer's default
   figure, as a plain image); a widget without an Output area (a progress bar, a bare slider)
   leaves nothing. The saved widget state is then left off the page, and with
   `nb_ipywidgets_js: {}` the pages load no widget script at all.
2. Author-year labels in the bibliography ("Hochreiter and Schmidhuber, 1997"), matching the
   author-year citations in the text, instead of pybtex's alpha labels ("[HS97]").
"""
import json
import re
from collections import Counter

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.transforms.post_transforms import SphinxPostTransform

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class RemoveWidgetViews(SphinxPostTransform):
    """Replace widget outputs by the static content of their Output areas (or by nothing)."""

    default_priority = 3  # before myst-nb's mime-type selection (priority 4)

    def run(self, **kwargs):
        state = self._widget_state()
        for bundle in list(self.document.findall(nodes.container)):
            if bundle.get("nb_element") != "mime_bundle":
                continue
            views = [child for child in bundle.children if child.get("mime_type") == WIDGET_VIEW]
            if not views:
                continue
            found = re.search(r"model_id\W+([0-9a-f]+)", views[0].astext())
            outputs = _output_area_outputs(state, found.group(1)) if found else []
            replacement = [node for output in outputs for node in self._render(output, bundle)]
            if replacement:
                bundle.replace_self(replacement)
            else:
                bundle.parent.remove(bundle)

    def _widget_state(self):
        """The notebook's saved widget models, by id (myst-nb keeps them for a script tag)."""
        metadata = getattr(self.env, "nb_metadata", {}).get(self.env.docname, {})
        entry = metadata.get("js_files", {}).get("ipywidgets_state")
        if not entry:
            return {}
        return json.loads(entry[1]["body"]).get("state", {})

    def _render(self, output, bundle):
        data = output.get("data", {})
        if output.get("output_type") == "stream":
            return [nodes.literal_block(text=output.get("text", ""), classes=["output", "stream"])]
        if "image/png" in data:
            # the caption of the enclosing figure (from the cell's metadata) doubles as alt text
            figure = bundle.parent if isinstance(bundle.parent, nodes.figure) else None
            captions = list(figure.findall(nodes.caption)) if figure is not None else []
            alt = captions[0].astext() if captions else "The explorer's default view."
            png = data["image/png"].replace("\n", "")
            uri = f"data:image/png;base64,{png}"
            return [nodes.image(uri=uri, alt=alt, candidates={"?": uri})]
        if "text/plain" in data:
            return [nodes.literal_block(text=data["text/plain"], classes=["output", "text_plain"])]
        return []


def _output_area_outputs(state, model_id, seen=None):
    """Outputs held by the Output widgets inside widget `model_id`, in display order."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    if model.get("model_name") == "OutputModel":
        return list(model.get("state", {}).get("outputs", []))
    outputs = []
    for child in model.get("state", {}).get("children", []) or []:
        outputs += _output_area_outputs(state, str(child).replace("IPY_MODEL_", ""), seen)
    return outputs


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
