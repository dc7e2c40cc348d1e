from django.db.models import Q

from alerts.models import Alert, AlertDelivery, AlertEvent
from outages.models import Incident


def alerts_for_incident(*, incident: Incident, event: str) -> list[Alert]:
    """The alerts that want this change: of the incident's service, asking for this event,
    and of its place. A country's incident goes to that country's alerts; a worldwide one to
    every alert of the service, since it is a problem wherever the subscriber is."""
    wants = Q(on_open=True) if event == AlertEvent.OPENED else Q(on_resolve=True)
    place = Q(country=incident.country) if incident.country else Q()
    return list(Alert.objects.filter(wants, place, service_id=incident.service_id).order_by("id"))


def alert_deliveries(*, incident_id: int) -> list[AlertDelivery]:
    return list(AlertDelivery.objects.filter(incident_id=incident_id).order_by("id"))
