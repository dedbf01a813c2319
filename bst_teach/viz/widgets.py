"""Widgets whose every state is computed up front, so they also work in the static site.

A control (slider or dropdown) is ``jslink``-ed in the browser to a ``Stack`` of precomputed
outputs: moving the control changes the shown child with no Python kernel behind the page.

    figures = {f"head {h}": plot_head(h) for h in range(4)}       # matplotlib figures
    precomputed_selector(figures, "head")                          # a dropdown + the figures

Two controls (e.g. user x head) nest stacks: the first control picks the outer child, the second
is linked to every inner stack.
"""
from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import PIL.Image


def figure_to_image(fig, dpi: float | None = None) -> widgets.Image:
    """A matplotlib figure as a PNG ``Image`` widget (the figure is closed).

    ``dpi`` defaults to matplotlib's ``figure.dpi``, the resolution of the book's other figures.
    The PNG is stored with a 256-colour palette (a colormap has 256 colours anyway): a widget
    keeps every precomputed frame in the notebook and the page, and this makes each about three
    times smaller at the same resolution.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or plt.rcParams["figure.dpi"], bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    small = io.BytesIO()
    PIL.Image.open(buf).convert("RGB").quantize(colors=256).save(small, format="png", optimize=True)
    return widgets.Image(value=small.getvalue(), format="png")


def _as_widget(item) -> widgets.Widget:
    if isinstance(item, widgets.Widget):
        return item
    if isinstance(item, plt.Figure):
        return figure_to_image(item)
    return widgets.HTML(str(item))


def _control(labels: list[str], description: str, slider: bool) -> widgets.Widget:
    if slider:
        return widgets.SelectionSlider(options=labels, description=description,
                                       continuous_update=True,
                                       style={"description_width": "initial"})
    return widgets.Dropdown(options=labels, description=description,
                            style={"description_width": "initial"})


def _index_trait(control) -> str:
    return "index"  # both Dropdown and SelectionSlider expose the chosen position as `index`


def precomputed_selector(outputs: dict, description: str, slider: bool = False) -> widgets.VBox:
    """One control over precomputed outputs (figures, widgets or HTML strings), linked in JS."""
    labels = list(outputs)
    stack = widgets.Stack([_as_widget(outputs[k]) for k in labels], selected_index=0)
    control = _control(labels, description, slider)
    widgets.jslink((control, _index_trait(control)), (stack, "selected_index"))
    return widgets.VBox([control, stack])


def precomputed_grid(outputs: dict, descriptions: tuple[str, str],
                     sliders: tuple[bool, bool] = (False, False)) -> widgets.VBox:
    """Two controls over ``outputs[(a, b)]`` for every pair of labels (a from the first control,
    b from the second), all precomputed and linked in JS."""
    first = list(dict.fromkeys(a for a, _ in outputs))
    second = list(dict.fromkeys(b for _, b in outputs))
    c1 = _control(first, descriptions[0], sliders[0])
    c2 = _control(second, descriptions[1], sliders[1])
    inner = []
    for a in first:
        stack = widgets.Stack([_as_widget(outputs[(a, b)]) for b in second], selected_index=0)
        widgets.jslink((c2, _index_trait(c2)), (stack, "selected_index"))
        inner.append(stack)
    outer = widgets.Stack(inner, selected_index=0)
    widgets.jslink((c1, _index_trait(c1)), (outer, "selected_index"))
    return widgets.VBox([widgets.HBox([c1, c2]), outer])
