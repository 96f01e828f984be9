"""Content warnings an author may put on a post; readers see the label and open the post."""

from __future__ import annotations

from forum.i18n import N_

PRESETS: dict[str, str] = {
    "suicide": N_("Suicide"),
    "automutilation": N_("Automutilation"),
    "troubles-alimentaires": N_("Troubles alimentaires"),
    "violences": N_("Violences"),
    "substances": N_("Substances"),
    "deuil": N_("Deuil"),
}
OTHER = "autre"
FREE_PREFIX = "libre:"
FREE_LABEL_MAX = 40


def stored_value(choice: str | None, free_label: str | None) -> str | None:
    """The value kept on the post: a preset key, ``libre:<label>``, or None."""
    if choice in PRESETS:
        return choice
    if choice == OTHER and free_label and free_label.strip():
        return FREE_PREFIX + free_label.strip()[:FREE_LABEL_MAX]
    return None


def label(value: str | None) -> str | None:
    """The message id (presets, to translate) or the author's own words (free labels)."""
    if value is None:
        return None
    if value.startswith(FREE_PREFIX):
        return value[len(FREE_PREFIX):]
    return PRESETS.get(value, value)


def is_preset(value: str | None) -> bool:
    return value in PRESETS


def form_values(value: str | None) -> tuple[str, str]:
    """(choice, free label) to fill the composer's fields from a stored value."""
    if value is None:
        return "", ""
    if value.startswith(FREE_PREFIX):
        return OTHER, value[len(FREE_PREFIX):]
    return value, ""
