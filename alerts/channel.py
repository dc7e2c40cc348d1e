from outages.webhooks import Channel, channel_register


def register() -> None:
    from alerts.services import alerts_announce, alerts_wanted
    from alerts.tasks import alert_deliver_task

    channel_register(
        Channel(
            name="alert",
            wanted=alerts_wanted,
            announce=alerts_announce,
            deliver=alert_deliver_task,
        )
    )
