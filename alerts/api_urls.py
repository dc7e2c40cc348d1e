from django.urls import path

from alerts import api

urlpatterns = [
    path("alerts/push", api.PushSubscribeApi.as_view(), name="alerts_push_subscribe"),
    path(
        "alerts/push/unsubscribe", api.PushUnsubscribeApi.as_view(), name="alerts_push_unsubscribe"
    ),
]
