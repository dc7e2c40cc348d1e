from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.regions import country_choices, subdivisions_of
from outages.models import Service
from reports.validation import COMMENT_MAX


class ReportForm(forms.Form):
    problem = forms.ChoiceField(widget=forms.RadioSelect, label=_("What is wrong?"))
    country = forms.ChoiceField(label=_("Country"))
    subdivision = forms.ChoiceField(required=False, label=_("State / province (optional)"))
    comment = forms.CharField(
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": COMMENT_MAX}),
    )
    # Honeypot: hidden from people by CSS and aria-hidden; bots that fill every field give
    # themselves away.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def __init__(self, *args: Any, service: Service, country: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        problem = self.fields["problem"]
        assert isinstance(problem, forms.ChoiceField)
        # Set here, per form: a lazy string's % would be worked out once, at import.
        self.fields["comment"].label = gettext(
            "Comment (optional, at most %(count)s characters)"
        ) % {"count": COMMENT_MAX}
        problem.choices = service.problem_choices()
        place_choices(self, country)


def place_choices(form: forms.Form, country: str) -> None:
    """The country list and the chosen (or remembered) country's subdivisions."""
    country_field = form.fields["country"]
    subdivision = form.fields["subdivision"]
    assert isinstance(country_field, forms.ChoiceField)
    assert isinstance(subdivision, forms.ChoiceField)
    country_field.choices = [("", _("Choose your country")), *country_choices()]
    chosen = str(form.data.get("country") or country).upper()
    subdivision.choices = [("", "—"), *(subdivisions_of(chosen) if chosen else [])]
    # Subdivision choices are not enforced here: the shared rules give a clearer error
    # ("not in country") when JavaScript is off and the list is stale.
    subdivision.valid_value = lambda value: True  # type: ignore[method-assign]
    if country:
        form.initial.setdefault("country", country)


class RecoveryForm(forms.Form):
    country = forms.ChoiceField(label=_("Country"))
    subdivision = forms.ChoiceField(required=False, label=_("State / province (optional)"))

    def __init__(self, *args: Any, country: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        place_choices(self, country)
