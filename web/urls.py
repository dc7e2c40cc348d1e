from django.urls import path

from web import embeds, views

urlpatterns = [
    # Liveness is /healthz (config/urls.py): the process answers, and touches nothing else.
    path("healthz/ready", views.healthz_ready, name="healthz_ready"),
    path("", views.home, name="home"),
    path("map/", views.live_map, name="live_map"),
    path("region/<str:country>/", views.region, name="region"),
    path("events/<int:event_id>/", views.event_detail, name="event_detail"),
    path("oembed", embeds.oembed, name="oembed"),
    path("offline/", views.offline, name="offline"),
    path("<slug:slug>/", views.service_detail, name="service_detail"),
    path("<slug:slug>/badge.svg", embeds.badge, name="badge"),
    path("<slug:slug>/embed/", embeds.embed, name="embed"),
]
