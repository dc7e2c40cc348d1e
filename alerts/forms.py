from django import forms
from django.utils.translation import gettext_lazy as _

from alerts.models import AlertEvent
from common.regions import countries


def place_choices() -> list[tuple[str, object]]:
    places = sorted(countries().items(), key=lambda item: item[1])
    return [("", _("Worldwide")), *places]


class EmailAlertForm(forms.Form):
    email = forms.EmailField(label=_("Your e-mail address"), max_length=254)
    country = forms.ChoiceField(label=_("Where"), required=False, choices=place_choices)
    events = forms.MultipleChoiceField(
        label=_("Tell me when"),
        choices=[
            (AlertEvent.OPENED, _("it has problems")),
            (AlertEvent.RESOLVED, _("it is back")),
        ],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one.")},
    )
    # A field no person sees or fills in (hidden by the stylesheet); scripts that fill every
    # field do.
    website = forms.CharField(required=False, label=_("Leave this empty"))
